#include <algorithm>
#include <vector>

#include "kernels/conv.h"
#include "kernels/parallel.h"

namespace kiln::kernels {

int64_t conv_out_size(int64_t in, int64_t k, int64_t stride, int64_t dilation, int64_t pad_before,
                      int64_t pad_after) {
  const int64_t span = in + pad_before + pad_after - ((k - 1) * dilation + 1);
  // Floor division that rounds negative spans down too.
  return (span >= 0 ? span / stride : -((-span + stride - 1) / stride)) + 1;
}

const char* conv_name(const ConvDesc& d) { return d.spatial_dims == 3 ? "conv3d" : "conv2d"; }

int64_t conv_src_numel(const ConvDesc& d) { return d.n * d.depth * d.h * d.w * d.c_in; }
int64_t conv_weights_numel(const ConvDesc& d) {
  return d.kd * d.kh * d.kw * (d.groups > 0 ? d.c_in / d.groups : 0) * d.c_out;
}
int64_t conv_dst_numel(const ConvDesc& d) {
  return d.n * d.out_depth * d.out_h * d.out_w * d.c_out;
}

std::string conv_desc_str(const ConvDesc& d) {
  auto s = [](int64_t v) { return std::to_string(v); };
  // The depth entries appear in 3-D only, so 2-D messages read as before.
  const bool d3 = d.spatial_dims == 3;
  auto dd = [&](int64_t v) { return d3 ? s(v) + ", " : std::string(); };
  return "x (" + s(d.n) + ", " + dd(d.depth) + s(d.h) + ", " + s(d.w) + ", " + s(d.c_in) +
         "), weight (" + dd(d.kd) + s(d.kh) + ", " + s(d.kw) + ", " +
         s(d.groups > 0 ? d.c_in / d.groups : 0) + ", " + s(d.c_out) + "), stride (" +
         dd(d.stride_d) + s(d.stride_h) + ", " + s(d.stride_w) + "), dilation (" +
         dd(d.dilation_d) + s(d.dilation_h) + ", " + s(d.dilation_w) + "), padding (" +
         dd(d.pad_front) + dd(d.pad_back) + s(d.pad_top) + ", " + s(d.pad_bottom) + ", " +
         s(d.pad_left) + ", " + s(d.pad_right) + "), groups " + s(d.groups) + " -> (" + s(d.n) +
         ", " + dd(d.out_depth) + s(d.out_h) + ", " + s(d.out_w) + ", " + s(d.c_out) + ")";
}

namespace ref {
namespace {

// Input and output channels per group.
struct Groups {
  explicit Groups(const ConvDesc& d)
      : icg(d.groups > 0 ? d.c_in / d.groups : 0), ocg(d.groups > 0 ? d.c_out / d.groups : 0) {}
  int64_t icg, ocg;
};

// The input position that output position o reads through kernel tap k, or
// -1 if it falls in the padding.
int64_t input_pos(int64_t o, int64_t k, int64_t stride, int64_t pad_before, int64_t dilation,
                  int64_t in) {
  const int64_t i = o * stride - pad_before + k * dilation;
  return i >= 0 && i < in ? i : -1;
}

// The output position that read input position i through kernel tap k, or
// -1 if none did.
int64_t output_pos(int64_t i, int64_t k, int64_t stride, int64_t pad_before, int64_t dilation,
                   int64_t out) {
  const int64_t t = i + pad_before - k * dilation;
  return t >= 0 && t % stride == 0 && t / stride < out ? t / stride : -1;
}

}  // namespace

// Every output (or gradient) element is accumulated by one thread in a fixed
// order, in double, so results do not depend on the thread count. 2-D is
// depth 1 throughout.
template <class T>
void conv_forward(const ConvDesc& d, const T* src, const T* weights, const T* bias, T* dst) {
  const Groups g(d);
  parallel_for(d.n * d.out_depth * d.out_h, 1, [&](int64_t begin, int64_t end) {
    std::vector<double> acc(static_cast<size_t>(d.c_out));
    for (int64_t row = begin; row < end; ++row) {
      const int64_t oh = row % d.out_h, od = row / d.out_h % d.out_depth;
      const int64_t n = row / d.out_h / d.out_depth;
      for (int64_t ow = 0; ow < d.out_w; ++ow) {
        for (int64_t o = 0; o < d.c_out; ++o) acc[o] = bias ? static_cast<double>(bias[o]) : 0.0;
        for (int64_t kd = 0; kd < d.kd; ++kd) {
          const int64_t id = input_pos(od, kd, d.stride_d, d.pad_front, d.dilation_d, d.depth);
          if (id < 0) continue;
          for (int64_t kh = 0; kh < d.kh; ++kh) {
            const int64_t ih = input_pos(oh, kh, d.stride_h, d.pad_top, d.dilation_h, d.h);
            if (ih < 0) continue;
            for (int64_t kw = 0; kw < d.kw; ++kw) {
              const int64_t iw = input_pos(ow, kw, d.stride_w, d.pad_left, d.dilation_w, d.w);
              if (iw < 0) continue;
              const T* x = src + (((n * d.depth + id) * d.h + ih) * d.w + iw) * d.c_in;
              const T* wk = weights + ((kd * d.kh + kh) * d.kw + kw) * g.icg * d.c_out;
              for (int64_t grp = 0; grp < d.groups; ++grp) {
                for (int64_t ic = 0; ic < g.icg; ++ic) {
                  const double xv = static_cast<double>(x[grp * g.icg + ic]);
                  const T* wrow = wk + ic * d.c_out + grp * g.ocg;
                  double* a = acc.data() + grp * g.ocg;
                  for (int64_t oc = 0; oc < g.ocg; ++oc) {
                    a[oc] += xv * static_cast<double>(wrow[oc]);
                  }
                }
              }
            }
          }
        }
        T* y = dst + (row * d.out_w + ow) * d.c_out;
        for (int64_t o = 0; o < d.c_out; ++o) y[o] = static_cast<T>(acc[o]);
      }
    }
  });
}

template <class T>
void conv_backward_data(const ConvDesc& d, const T* diff_dst, const T* weights, T* diff_src) {
  const Groups g(d);
  parallel_for(d.n * d.depth * d.h, 1, [&](int64_t begin, int64_t end) {
    std::vector<double> acc(static_cast<size_t>(d.c_in));
    for (int64_t row = begin; row < end; ++row) {
      const int64_t ih = row % d.h, id = row / d.h % d.depth, n = row / d.h / d.depth;
      for (int64_t iw = 0; iw < d.w; ++iw) {
        std::fill(acc.begin(), acc.end(), 0.0);
        for (int64_t kd = 0; kd < d.kd; ++kd) {
          const int64_t od = output_pos(id, kd, d.stride_d, d.pad_front, d.dilation_d, d.out_depth);
          if (od < 0) continue;
          for (int64_t kh = 0; kh < d.kh; ++kh) {
            const int64_t oh = output_pos(ih, kh, d.stride_h, d.pad_top, d.dilation_h, d.out_h);
            if (oh < 0) continue;
            for (int64_t kw = 0; kw < d.kw; ++kw) {
              const int64_t ow = output_pos(iw, kw, d.stride_w, d.pad_left, d.dilation_w, d.out_w);
              if (ow < 0) continue;
              const T* dy =
                  diff_dst + (((n * d.out_depth + od) * d.out_h + oh) * d.out_w + ow) * d.c_out;
              const T* wk = weights + ((kd * d.kh + kh) * d.kw + kw) * g.icg * d.c_out;
              for (int64_t grp = 0; grp < d.groups; ++grp) {
                for (int64_t ic = 0; ic < g.icg; ++ic) {
                  const T* wrow = wk + ic * d.c_out + grp * g.ocg;
                  const T* dyg = dy + grp * g.ocg;
                  double s = 0;
                  for (int64_t oc = 0; oc < g.ocg; ++oc) {
                    s += static_cast<double>(dyg[oc]) * static_cast<double>(wrow[oc]);
                  }
                  acc[grp * g.icg + ic] += s;
                }
              }
            }
          }
        }
        T* dx = diff_src + (row * d.w + iw) * d.c_in;
        for (int64_t c = 0; c < d.c_in; ++c) dx[c] = static_cast<T>(acc[c]);
      }
    }
  });
}

template <class T>
void conv_backward_weights(const ConvDesc& d, const T* src, const T* diff_dst, T* diff_weights,
                           T* diff_bias) {
  const Groups g(d);
  // One job per weight row (kd, kh, kw, ic) of C_out outputs.
  parallel_for(d.kd * d.kh * d.kw * g.icg, 1, [&](int64_t begin, int64_t end) {
    std::vector<double> acc(static_cast<size_t>(d.c_out));
    for (int64_t job = begin; job < end; ++job) {
      const int64_t ic = job % g.icg, kk = job / g.icg;
      const int64_t kw = kk % d.kw, kh = kk / d.kw % d.kh, kd = kk / d.kw / d.kh;
      std::fill(acc.begin(), acc.end(), 0.0);
      for (int64_t n = 0; n < d.n; ++n) {
        for (int64_t od = 0; od < d.out_depth; ++od) {
          const int64_t id = input_pos(od, kd, d.stride_d, d.pad_front, d.dilation_d, d.depth);
          if (id < 0) continue;
          for (int64_t oh = 0; oh < d.out_h; ++oh) {
            const int64_t ih = input_pos(oh, kh, d.stride_h, d.pad_top, d.dilation_h, d.h);
            if (ih < 0) continue;
            for (int64_t ow = 0; ow < d.out_w; ++ow) {
              const int64_t iw = input_pos(ow, kw, d.stride_w, d.pad_left, d.dilation_w, d.w);
              if (iw < 0) continue;
              const T* x = src + (((n * d.depth + id) * d.h + ih) * d.w + iw) * d.c_in;
              const T* dy =
                  diff_dst + (((n * d.out_depth + od) * d.out_h + oh) * d.out_w + ow) * d.c_out;
              for (int64_t grp = 0; grp < d.groups; ++grp) {
                const double xv = static_cast<double>(x[grp * g.icg + ic]);
                double* a = acc.data() + grp * g.ocg;
                const T* dyg = dy + grp * g.ocg;
                for (int64_t oc = 0; oc < g.ocg; ++oc) {
                  a[oc] += xv * static_cast<double>(dyg[oc]);
                }
              }
            }
          }
        }
      }
      T* dw = diff_weights + job * d.c_out;
      for (int64_t o = 0; o < d.c_out; ++o) dw[o] = static_cast<T>(acc[o]);
    }
  });
  if (diff_bias == nullptr) return;
  const int64_t rows = d.n * d.out_depth * d.out_h * d.out_w;
  parallel_for(d.c_out, 1, [&](int64_t begin, int64_t end) {
    for (int64_t o = begin; o < end; ++o) {
      double s = 0;
      for (int64_t r = 0; r < rows; ++r) s += static_cast<double>(diff_dst[r * d.c_out + o]);
      diff_bias[o] = static_cast<T>(s);
    }
  });
}

#define KILN_INSTANTIATE_CONV(T)                                                    \
  template void conv_forward<T>(const ConvDesc&, const T*, const T*, const T*, T*); \
  template void conv_backward_data<T>(const ConvDesc&, const T*, const T*, T*);     \
  template void conv_backward_weights<T>(const ConvDesc&, const T*, const T*, T*, T*);
KILN_INSTANTIATE_CONV(float)
KILN_INSTANTIATE_CONV(double)
#undef KILN_INSTANTIATE_CONV

}  // namespace ref
}  // namespace kiln::kernels
