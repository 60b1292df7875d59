// Picks the layer norm kernels of the best ISA this CPU runs.
#include "kernels/norm.h"

namespace kiln::kernels {

void layer_norm_forward_isa(Isa isa, const float* src, const float* gamma, const float* beta,
                            float* dst, float* mean, float* rstd, int64_t rows, int64_t d,
                            double eps) {
  switch (isa) {
    case Isa::kAvx512:
      return avx512::layer_norm_forward(src, gamma, beta, dst, mean, rstd, rows, d, eps);
    case Isa::kAvx2:
      return avx2::layer_norm_forward(src, gamma, beta, dst, mean, rstd, rows, d, eps);
    case Isa::kRef:
      break;
  }
  ref::layer_norm_forward(src, gamma, beta, dst, mean, rstd, rows, d, eps);
}

void layer_norm_backward_isa(Isa isa, const float* src, const float* gamma, const float* mean,
                             const float* rstd, const float* diff_dst, float* diff_src,
                             float* diff_gamma, float* diff_beta, int64_t rows, int64_t d) {
  switch (isa) {
    case Isa::kAvx512:
      return avx512::layer_norm_backward(src, gamma, mean, rstd, diff_dst, diff_src, diff_gamma,
                                         diff_beta, rows, d);
    case Isa::kAvx2:
      return avx2::layer_norm_backward(src, gamma, mean, rstd, diff_dst, diff_src, diff_gamma,
                                       diff_beta, rows, d);
    case Isa::kRef:
      break;
  }
  ref::layer_norm_backward(src, gamma, mean, rstd, diff_dst, diff_src, diff_gamma, diff_beta, rows,
                           d);
}

void layer_norm_forward(const float* src, const float* gamma, const float* beta, float* dst,
                        float* mean, float* rstd, int64_t rows, int64_t d, double eps) {
  layer_norm_forward_isa(best_isa(), src, gamma, beta, dst, mean, rstd, rows, d, eps);
}
void layer_norm_forward(const double* src, const double* gamma, const double* beta, double* dst,
                        double* mean, double* rstd, int64_t rows, int64_t d, double eps) {
  ref::layer_norm_forward(src, gamma, beta, dst, mean, rstd, rows, d, eps);
}
void layer_norm_backward(const float* src, const float* gamma, const float* mean, const float* rstd,
                         const float* diff_dst, float* diff_src, float* diff_gamma,
                         float* diff_beta, int64_t rows, int64_t d) {
  layer_norm_backward_isa(best_isa(), src, gamma, mean, rstd, diff_dst, diff_src, diff_gamma,
                          diff_beta, rows, d);
}
void layer_norm_backward(const double* src, const double* gamma, const double* mean,
                         const double* rstd, const double* diff_dst, double* diff_src,
                         double* diff_gamma, double* diff_beta, int64_t rows, int64_t d) {
  ref::layer_norm_backward(src, gamma, mean, rstd, diff_dst, diff_src, diff_gamma, diff_beta, rows,
                           d);
}

}  // namespace kiln::kernels
