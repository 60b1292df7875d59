// Reference layer norm kernels: scalar, obviously correct, the oracle for
// the SIMD versions and the f64 path of gradient checks. Row statistics are
// accumulated in double.
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/norm.h"
#include "kernels/parallel.h"

namespace kiln::kernels::ref {
namespace {

template <class T>
void forward_impl(const T* src, const T* gamma, const T* beta, T* dst, T* mean, T* rstd,
                  int64_t rows, int64_t d, double eps) {
  parallel_for(rows, std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(d, 1)),
               [&](int64_t begin, int64_t end) {
                 for (int64_t r = begin; r < end; ++r) {
                   const T* x = src + r * d;
                   T* y = dst + r * d;
                   double sum = 0;
                   for (int64_t j = 0; j < d; ++j) sum += x[j];
                   const double mu = d > 0 ? sum / static_cast<double>(d) : 0.0;
                   double sq = 0;
                   for (int64_t j = 0; j < d; ++j) sq += (x[j] - mu) * (x[j] - mu);
                   const double var = d > 0 ? sq / static_cast<double>(d) : 0.0;
                   const double rs = 1.0 / std::sqrt(var + eps);
                   for (int64_t j = 0; j < d; ++j) {
                     double v = (x[j] - mu) * rs;
                     if (gamma) v *= gamma[j];
                     if (beta) v += beta[j];
                     y[j] = static_cast<T>(v);
                   }
                   mean[r] = static_cast<T>(mu);
                   rstd[r] = static_cast<T>(rs);
                 }
               });
}

template <class T>
void backward_impl(const T* src, const T* gamma, const T* mean, const T* rstd, const T* diff_dst,
                   T* diff_src, T* diff_gamma, T* diff_beta, int64_t rows, int64_t d) {
  const bool params = diff_gamma || diff_beta;
  const int64_t blocks = (rows + kNormRowBlock - 1) / kNormRowBlock;
  // Per block partial sums: (blocks, d) for gamma, then (blocks, d) for beta.
  std::vector<T> partial(params ? static_cast<size_t>(2 * blocks * d) : 0);
  parallel_for(blocks, 1, [&](int64_t begin, int64_t end) {
    for (int64_t blk = begin; blk < end; ++blk) {
      T* pg = params ? partial.data() + blk * d : nullptr;
      T* pb = params ? partial.data() + (blocks + blk) * d : nullptr;
      if (params) std::fill(pg, pg + d, T(0));
      if (params) std::fill(pb, pb + d, T(0));
      for (int64_t r = blk * kNormRowBlock; r < std::min(rows, (blk + 1) * kNormRowBlock); ++r) {
        const T* x = src + r * d;
        const T* dy = diff_dst + r * d;
        const double mu = mean[r], rs = rstd[r];
        if (params) {
          for (int64_t j = 0; j < d; ++j) {
            pg[j] += static_cast<T>(dy[j] * ((x[j] - mu) * rs));
            pb[j] += dy[j];
          }
        }
        if (!diff_src) continue;
        double a = 0, b = 0;
        for (int64_t j = 0; j < d; ++j) {
          const double g = gamma ? double(dy[j]) * gamma[j] : double(dy[j]);
          a += g;
          b += g * ((x[j] - mu) * rs);
        }
        a /= static_cast<double>(d);
        b /= static_cast<double>(d);
        T* dx = diff_src + r * d;
        for (int64_t j = 0; j < d; ++j) {
          const double g = gamma ? double(dy[j]) * gamma[j] : double(dy[j]);
          dx[j] = static_cast<T>(rs * (g - a - (x[j] - mu) * rs * b));
        }
      }
    }
  });
  if (!params) return;
  // Merge the blocks in order, each column independently.
  parallel_for(d, std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(blocks, 1)),
               [&](int64_t begin, int64_t end) {
                 for (int64_t j = begin; j < end; ++j) {
                   T sg = 0, sb = 0;
                   for (int64_t blk = 0; blk < blocks; ++blk) {
                     sg += partial[blk * d + j];
                     sb += partial[(blocks + blk) * d + j];
                   }
                   if (diff_gamma) diff_gamma[j] = sg;
                   if (diff_beta) diff_beta[j] = sb;
                 }
               });
}

}  // namespace

void layer_norm_forward(const float* src, const float* gamma, const float* beta, float* dst,
                        float* mean, float* rstd, int64_t rows, int64_t d, double eps) {
  forward_impl(src, gamma, beta, dst, mean, rstd, rows, d, eps);
}
void layer_norm_forward(const double* src, const double* gamma, const double* beta, double* dst,
                        double* mean, double* rstd, int64_t rows, int64_t d, double eps) {
  forward_impl(src, gamma, beta, dst, mean, rstd, rows, d, eps);
}
void layer_norm_backward(const float* src, const float* gamma, const float* mean, const float* rstd,
                         const float* diff_dst, float* diff_src, float* diff_gamma,
                         float* diff_beta, int64_t rows, int64_t d) {
  backward_impl(src, gamma, mean, rstd, diff_dst, diff_src, diff_gamma, diff_beta, rows, d);
}
void layer_norm_backward(const double* src, const double* gamma, const double* mean,
                         const double* rstd, const double* diff_dst, double* diff_src,
                         double* diff_gamma, double* diff_beta, int64_t rows, int64_t d) {
  backward_impl(src, gamma, mean, rstd, diff_dst, diff_src, diff_gamma, diff_beta, rows, d);
}

}  // namespace kiln::kernels::ref
