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

std::string conv_desc_str(const ConvDesc& d) {
  auto s = [](int64_t v) { return std::to_string(v); };
  return "x (" + s(d.n) + ", " + s(d.h) + ", " + s(d.w) + ", " + s(d.c_in) + "), weight (" +
         s(d.kh) + ", " + s(d.kw) + ", " + s(d.groups > 0 ? d.c_in / d.groups : 0) + ", " +
         s(d.c_out) + "), stride (" + s(d.stride_h) + ", " + s(d.stride_w) + "), dilation (" +
         s(d.dilation_h) + ", " + s(d.dilation_w) + "), padding (" + s(d.pad_top) + ", " +
         s(d.pad_bottom) + ", " + s(d.pad_left) + ", " + s(d.pad_right) + "), groups " +
         s(d.groups) + " -> (" + s(d.n) + ", " + s(d.out_h) + ", " + s(d.out_w) + ", " +
         s(d.c_out) + ")";
}

namespace ref {
namespace {

// Input and output channels per group.
struct Groups {
  explicit Groups(const ConvDesc& d)
      : icg(d.groups > 0 ? d.c_in / d.groups : 0), ocg(d.groups > 0 ? d.c_out / d.groups : 0) {}
  int64_t icg, ocg;
};

}  // namespace

// Every output (or gradient) element is accumulated by one thread in a fixed
// order, in double, so results do not depend on the thread count.
template <class T>
void conv_forward(const ConvDesc& d, const T* src, const T* weights, const T* bias, T* dst) {
  const Groups g(d);
  parallel_for(d.n * d.out_h, 1, [&](int64_t begin, int64_t end) {
    std::vector<double> acc(static_cast<size_t>(d.c_out));
    for (int64_t row = begin; row < end; ++row) {
      const int64_t n = row / d.out_h, oh = row % d.out_h;
      for (int64_t ow = 0; ow < d.out_w; ++ow) {
        for (int64_t o = 0; o < d.c_out; ++o) acc[o] = bias ? static_cast<double>(bias[o]) : 0.0;
        for (int64_t kh = 0; kh < d.kh; ++kh) {
          const int64_t ih = oh * d.stride_h - d.pad_top + kh * d.dilation_h;
          if (ih < 0 || ih >= d.h) continue;
          for (int64_t kw = 0; kw < d.kw; ++kw) {
            const int64_t iw = ow * d.stride_w - d.pad_left + kw * d.dilation_w;
            if (iw < 0 || iw >= d.w) continue;
            const T* x = src + ((n * d.h + ih) * d.w + iw) * d.c_in;
            const T* wk = weights + (kh * d.kw + kw) * g.icg * d.c_out;
            for (int64_t grp = 0; grp < d.groups; ++grp) {
              for (int64_t ic = 0; ic < g.icg; ++ic) {
                const double xv = static_cast<double>(x[grp * g.icg + ic]);
                const T* wrow = wk + ic * d.c_out + grp * g.ocg;
                double* a = acc.data() + grp * g.ocg;
                for (int64_t oc = 0; oc < g.ocg; ++oc) a[oc] += xv * static_cast<double>(wrow[oc]);
              }
            }
          }
        }
        T* y = dst + ((n * d.out_h + oh) * d.out_w + ow) * d.c_out;
        for (int64_t o = 0; o < d.c_out; ++o) y[o] = static_cast<T>(acc[o]);
      }
    }
  });
}

template <class T>
void conv_backward_data(const ConvDesc& d, const T* diff_dst, const T* weights, T* diff_src) {
  const Groups g(d);
  parallel_for(d.n * d.h, 1, [&](int64_t begin, int64_t end) {
    std::vector<double> acc(static_cast<size_t>(d.c_in));
    for (int64_t row = begin; row < end; ++row) {
      const int64_t n = row / d.h, ih = row % d.h;
      for (int64_t iw = 0; iw < d.w; ++iw) {
        std::fill(acc.begin(), acc.end(), 0.0);
        for (int64_t kh = 0; kh < d.kh; ++kh) {
          // The output row that read (ih, kh), if any.
          const int64_t th = ih + d.pad_top - kh * d.dilation_h;
          if (th < 0 || th % d.stride_h != 0 || th / d.stride_h >= d.out_h) continue;
          const int64_t oh = th / d.stride_h;
          for (int64_t kw = 0; kw < d.kw; ++kw) {
            const int64_t tw = iw + d.pad_left - kw * d.dilation_w;
            if (tw < 0 || tw % d.stride_w != 0 || tw / d.stride_w >= d.out_w) continue;
            const int64_t ow = tw / d.stride_w;
            const T* dy = diff_dst + ((n * d.out_h + oh) * d.out_w + ow) * d.c_out;
            const T* wk = weights + (kh * d.kw + kw) * g.icg * d.c_out;
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
        T* dx = diff_src + ((n * d.h + ih) * d.w + iw) * d.c_in;
        for (int64_t c = 0; c < d.c_in; ++c) dx[c] = static_cast<T>(acc[c]);
      }
    }
  });
}

template <class T>
void conv_backward_weights(const ConvDesc& d, const T* src, const T* diff_dst, T* diff_weights,
                           T* diff_bias) {
  const Groups g(d);
  // One job per weight row (kh, kw, ic) of C_out outputs.
  parallel_for(d.kh * d.kw * g.icg, 1, [&](int64_t begin, int64_t end) {
    std::vector<double> acc(static_cast<size_t>(d.c_out));
    for (int64_t job = begin; job < end; ++job) {
      const int64_t ic = job % g.icg, kk = job / g.icg;
      const int64_t kh = kk / d.kw, kw = kk % d.kw;
      std::fill(acc.begin(), acc.end(), 0.0);
      for (int64_t n = 0; n < d.n; ++n) {
        for (int64_t oh = 0; oh < d.out_h; ++oh) {
          const int64_t ih = oh * d.stride_h - d.pad_top + kh * d.dilation_h;
          if (ih < 0 || ih >= d.h) continue;
          for (int64_t ow = 0; ow < d.out_w; ++ow) {
            const int64_t iw = ow * d.stride_w - d.pad_left + kw * d.dilation_w;
            if (iw < 0 || iw >= d.w) continue;
            const T* x = src + ((n * d.h + ih) * d.w + iw) * d.c_in;
            const T* dy = diff_dst + ((n * d.out_h + oh) * d.out_w + ow) * d.c_out;
            for (int64_t grp = 0; grp < d.groups; ++grp) {
              const double xv = static_cast<double>(x[grp * g.icg + ic]);
              double* a = acc.data() + grp * g.ocg;
              const T* dyg = dy + grp * g.ocg;
              for (int64_t oc = 0; oc < g.ocg; ++oc) a[oc] += xv * static_cast<double>(dyg[oc]);
            }
          }
        }
      }
      T* dw = diff_weights + job * d.c_out;
      for (int64_t o = 0; o < d.c_out; ++o) dw[o] = static_cast<T>(acc[o]);
    }
  });
  if (diff_bias == nullptr) return;
  const int64_t rows = d.n * d.out_h * d.out_w;
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
