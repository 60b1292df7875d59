#include <algorithm>
#include <vector>

#include "kernels/parallel.h"
#include "kernels/pool.h"

namespace kiln::kernels {

int64_t pool_src_numel(const PoolDesc& d) { return d.n * d.depth * d.h * d.w * d.c; }
int64_t pool_dst_numel(const PoolDesc& d) { return d.n * d.out_depth * d.out_h * d.out_w * d.c; }

std::string pool_desc_str(const PoolDesc& d) {
  auto s = [](int64_t v) { return std::to_string(v); };
  // The depth entries appear in 3-D only, so 2-D messages read as before.
  const bool d3 = d.spatial_dims == 3;
  auto dd = [&](int64_t v) { return d3 ? s(v) + ", " : std::string(); };
  return std::string(d.alg == PoolAlg::kMax ? "max" : "avg") + " pool x (" + s(d.n) + ", " +
         dd(d.depth) + s(d.h) + ", " + s(d.w) + ", " + s(d.c) + "), kernel (" + dd(d.kd) + s(d.kh) +
         ", " + s(d.kw) + "), stride (" + dd(d.stride_d) + s(d.stride_h) + ", " + s(d.stride_w) +
         "), padding (" + dd(d.pad_front) + dd(d.pad_back) + s(d.pad_top) + ", " + s(d.pad_bottom) +
         ", " + s(d.pad_left) + ", " + s(d.pad_right) + ") -> (" + s(d.n) + ", " + dd(d.out_depth) +
         s(d.out_h) + ", " + s(d.out_w) + ", " + s(d.c) + ")";
}

namespace ref {
namespace {

// The window of output (od, oh, ow) clipped to the image:
// [d0, d1) x [h0, h1) x [w0, w1).
struct Window {
  int64_t d0, d1, h0, h1, w0, w1;
  int64_t count() const { return (d1 - d0) * (h1 - h0) * (w1 - w0); }
};

Window window(const PoolDesc& d, int64_t od, int64_t oh, int64_t ow) {
  const int64_t ds = od * d.stride_d - d.pad_front;
  const int64_t hs = oh * d.stride_h - d.pad_top, ws = ow * d.stride_w - d.pad_left;
  return {std::max<int64_t>(ds, 0), std::min(ds + d.kd, d.depth), std::max<int64_t>(hs, 0),
          std::min(hs + d.kh, d.h), std::max<int64_t>(ws, 0),     std::min(ws + d.kw, d.w)};
}

}  // namespace

template <class T>
void pool_forward(const PoolDesc& d, const T* src, T* dst, int32_t* argmax) {
  parallel_for(d.n * d.out_depth * d.out_h, 1, [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      const int64_t oh = row % d.out_h, od = row / d.out_h % d.out_depth;
      const int64_t n = row / d.out_h / d.out_depth;
      const T* image = src + n * d.depth * d.h * d.w * d.c;
      for (int64_t ow = 0; ow < d.out_w; ++ow) {
        const Window win = window(d, od, oh, ow);
        const int64_t out = (row * d.out_w + ow) * d.c;
        for (int64_t c = 0; c < d.c; ++c) {
          if (d.alg == PoolAlg::kMax) {
            // The first maximum in row-major window order.
            int64_t best = (win.d0 * d.h + win.h0) * d.w + win.w0;
            for (int64_t z = win.d0; z < win.d1; ++z) {
              for (int64_t h = win.h0; h < win.h1; ++h) {
                for (int64_t w = win.w0; w < win.w1; ++w) {
                  const int64_t at = (z * d.h + h) * d.w + w;
                  if (image[at * d.c + c] > image[best * d.c + c]) best = at;
                }
              }
            }
            dst[out + c] = image[best * d.c + c];
            argmax[out + c] = static_cast<int32_t>(best);
          } else {
            double s = 0;
            for (int64_t z = win.d0; z < win.d1; ++z) {
              for (int64_t h = win.h0; h < win.h1; ++h) {
                for (int64_t w = win.w0; w < win.w1; ++w) {
                  s += static_cast<double>(image[((z * d.h + h) * d.w + w) * d.c + c]);
                }
              }
            }
            dst[out + c] = static_cast<T>(s / static_cast<double>(win.count()));
          }
        }
      }
    }
  });
}

template <class T>
void pool_backward(const PoolDesc& d, const T* diff_dst, const int32_t* argmax, T* diff_src) {
  // One image per job: windows never cross images, and within an image the
  // gradient is scattered in a fixed order.
  const int64_t image_size = d.depth * d.h * d.w * d.c;
  const int64_t out_image = d.out_depth * d.out_h * d.out_w;
  parallel_for(d.n, 1, [&](int64_t begin, int64_t end) {
    std::vector<double> acc(static_cast<size_t>(image_size));
    for (int64_t n = begin; n < end; ++n) {
      std::fill(acc.begin(), acc.end(), 0.0);
      for (int64_t o = 0; o < out_image; ++o) {
        const int64_t out = (n * out_image + o) * d.c;
        if (d.alg == PoolAlg::kMax) {
          for (int64_t c = 0; c < d.c; ++c) {
            acc[argmax[out + c] * d.c + c] += static_cast<double>(diff_dst[out + c]);
          }
          continue;
        }
        const int64_t ow = o % d.out_w, oh = o / d.out_w % d.out_h, od = o / d.out_w / d.out_h;
        const Window win = window(d, od, oh, ow);
        const double scale = 1.0 / static_cast<double>(win.count());
        for (int64_t z = win.d0; z < win.d1; ++z) {
          for (int64_t h = win.h0; h < win.h1; ++h) {
            for (int64_t w = win.w0; w < win.w1; ++w) {
              double* a = acc.data() + ((z * d.h + h) * d.w + w) * d.c;
              for (int64_t c = 0; c < d.c; ++c) {
                a[c] += static_cast<double>(diff_dst[out + c]) * scale;
              }
            }
          }
        }
      }
      T* dx = diff_src + n * image_size;
      for (int64_t i = 0; i < image_size; ++i) dx[i] = static_cast<T>(acc[i]);
    }
  });
}

template void pool_forward<float>(const PoolDesc&, const float*, float*, int32_t*);
template void pool_forward<double>(const PoolDesc&, const double*, double*, int32_t*);
template void pool_backward<float>(const PoolDesc&, const float*, const int32_t*, float*);
template void pool_backward<double>(const PoolDesc&, const double*, const int32_t*, double*);

}  // namespace ref
}  // namespace kiln::kernels
