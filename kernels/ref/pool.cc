#include <algorithm>
#include <vector>

#include "kernels/parallel.h"
#include "kernels/pool.h"

namespace kiln::kernels {

std::string pool_desc_str(const PoolDesc& d) {
  auto s = [](int64_t v) { return std::to_string(v); };
  return std::string(d.alg == PoolAlg::kMax ? "max" : "avg") + " pool x (" + s(d.n) + ", " +
         s(d.h) + ", " + s(d.w) + ", " + s(d.c) + "), kernel (" + s(d.kh) + ", " + s(d.kw) +
         "), stride (" + s(d.stride_h) + ", " + s(d.stride_w) + "), padding (" + s(d.pad_top) +
         ", " + s(d.pad_bottom) + ", " + s(d.pad_left) + ", " + s(d.pad_right) + ") -> (" + s(d.n) +
         ", " + s(d.out_h) + ", " + s(d.out_w) + ", " + s(d.c) + ")";
}

namespace ref {
namespace {

// The window of output (oh, ow) clipped to the image: [h0, h1) x [w0, w1).
struct Window {
  int64_t h0, h1, w0, w1;
  int64_t count() const { return (h1 - h0) * (w1 - w0); }
};

Window window(const PoolDesc& d, int64_t oh, int64_t ow) {
  const int64_t hs = oh * d.stride_h - d.pad_top, ws = ow * d.stride_w - d.pad_left;
  return {std::max<int64_t>(hs, 0), std::min(hs + d.kh, d.h), std::max<int64_t>(ws, 0),
          std::min(ws + d.kw, d.w)};
}

}  // namespace

template <class T>
void pool_forward(const PoolDesc& d, const T* src, T* dst, int32_t* argmax) {
  parallel_for(d.n * d.out_h, 1, [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      const int64_t n = row / d.out_h, oh = row % d.out_h;
      const T* image = src + n * d.h * d.w * d.c;
      for (int64_t ow = 0; ow < d.out_w; ++ow) {
        const Window win = window(d, oh, ow);
        const int64_t out = (row * d.out_w + ow) * d.c;
        for (int64_t c = 0; c < d.c; ++c) {
          if (d.alg == PoolAlg::kMax) {
            // The first maximum in row-major window order.
            int64_t best = win.h0 * d.w + win.w0;
            for (int64_t h = win.h0; h < win.h1; ++h) {
              for (int64_t w = win.w0; w < win.w1; ++w) {
                if (image[(h * d.w + w) * d.c + c] > image[best * d.c + c]) best = h * d.w + w;
              }
            }
            dst[out + c] = image[best * d.c + c];
            argmax[out + c] = static_cast<int32_t>(best);
          } else {
            double s = 0;
            for (int64_t h = win.h0; h < win.h1; ++h) {
              for (int64_t w = win.w0; w < win.w1; ++w) {
                s += static_cast<double>(image[(h * d.w + w) * d.c + c]);
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
  const int64_t image_size = d.h * d.w * d.c;
  parallel_for(d.n, 1, [&](int64_t begin, int64_t end) {
    std::vector<double> acc(static_cast<size_t>(image_size));
    for (int64_t n = begin; n < end; ++n) {
      std::fill(acc.begin(), acc.end(), 0.0);
      for (int64_t oh = 0; oh < d.out_h; ++oh) {
        for (int64_t ow = 0; ow < d.out_w; ++ow) {
          const int64_t out = ((n * d.out_h + oh) * d.out_w + ow) * d.c;
          if (d.alg == PoolAlg::kMax) {
            for (int64_t c = 0; c < d.c; ++c) {
              acc[argmax[out + c] * d.c + c] += static_cast<double>(diff_dst[out + c]);
            }
            continue;
          }
          const Window win = window(d, oh, ow);
          const double scale = 1.0 / static_cast<double>(win.count());
          for (int64_t h = win.h0; h < win.h1; ++h) {
            for (int64_t w = win.w0; w < win.w1; ++w) {
              double* a = acc.data() + (h * d.w + w) * d.c;
              for (int64_t c = 0; c < d.c; ++c)
                a[c] += static_cast<double>(diff_dst[out + c]) * scale;
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
