// Picks the optimizer kernels of the best ISA this CPU runs.
#include "kernels/optim.h"

namespace kiln::kernels {

SumSquares sum_squares_finite_isa(Isa isa, const float* x, int64_t n) {
  switch (isa) {
    case Isa::kAvx512:
      return avx512::sum_squares_finite(x, n);
    case Isa::kAvx2:
      return avx2::sum_squares_finite(x, n);
    case Isa::kRef:
      break;
  }
  return ref::sum_squares_finite(x, n);
}

void agc_clip_isa(Isa isa, const float* param, float* grad, int64_t rows, int64_t cols,
                  double clipping, double eps) {
  switch (isa) {
    case Isa::kAvx512:
      return avx512::agc_clip(param, grad, rows, cols, clipping, eps);
    case Isa::kAvx2:
      return avx2::agc_clip(param, grad, rows, cols, clipping, eps);
    case Isa::kRef:
      break;
  }
  ref::agc_clip(param, grad, rows, cols, clipping, eps);
}

void sgd_update_isa(Isa isa, float* param, const float* grad, float* momentum_buf, int64_t n,
                    const SgdHyper& h) {
  switch (isa) {
    case Isa::kAvx512:
      return avx512::sgd_update(param, grad, momentum_buf, n, h);
    case Isa::kAvx2:
      return avx2::sgd_update(param, grad, momentum_buf, n, h);
    case Isa::kRef:
      break;
  }
  ref::sgd_update(param, grad, momentum_buf, n, h);
}

void adam_update_isa(Isa isa, float* param, const float* grad, float* exp_avg, float* exp_avg_sq,
                     int64_t n, const AdamHyper& h) {
  switch (isa) {
    case Isa::kAvx512:
      return avx512::adam_update(param, grad, exp_avg, exp_avg_sq, n, h);
    case Isa::kAvx2:
      return avx2::adam_update(param, grad, exp_avg, exp_avg_sq, n, h);
    case Isa::kRef:
      break;
  }
  ref::adam_update(param, grad, exp_avg, exp_avg_sq, n, h);
}

double lamb_update_isa(Isa isa, float* param, const float* grad, float* exp_avg, float* exp_avg_sq,
                       int64_t n, const LambHyper& h) {
  switch (isa) {
    case Isa::kAvx512:
      return avx512::lamb_update(param, grad, exp_avg, exp_avg_sq, n, h);
    case Isa::kAvx2:
      return avx2::lamb_update(param, grad, exp_avg, exp_avg_sq, n, h);
    case Isa::kRef:
      break;
  }
  return ref::lamb_update(param, grad, exp_avg, exp_avg_sq, n, h);
}

void ema_update_isa(Isa isa, float* shadow, const float* value, int64_t n, double decay) {
  switch (isa) {
    case Isa::kAvx512:
      return avx512::ema_update(shadow, value, n, decay);
    case Isa::kAvx2:
      return avx2::ema_update(shadow, value, n, decay);
    case Isa::kRef:
      break;
  }
  ref::ema_update(shadow, value, n, decay);
}

// f32: the best ISA; f64: the reference.
SumSquares sum_squares_finite(const float* x, int64_t n) {
  return sum_squares_finite_isa(best_isa(), x, n);
}
SumSquares sum_squares_finite(const double* x, int64_t n) { return ref::sum_squares_finite(x, n); }

void agc_clip(const float* param, float* grad, int64_t rows, int64_t cols, double clipping,
              double eps) {
  agc_clip_isa(best_isa(), param, grad, rows, cols, clipping, eps);
}
void agc_clip(const double* param, double* grad, int64_t rows, int64_t cols, double clipping,
              double eps) {
  ref::agc_clip(param, grad, rows, cols, clipping, eps);
}

void sgd_update(float* param, const float* grad, float* momentum_buf, int64_t n,
                const SgdHyper& h) {
  sgd_update_isa(best_isa(), param, grad, momentum_buf, n, h);
}
void sgd_update(double* param, const double* grad, double* momentum_buf, int64_t n,
                const SgdHyper& h) {
  ref::sgd_update(param, grad, momentum_buf, n, h);
}

void adam_update(float* param, const float* grad, float* exp_avg, float* exp_avg_sq, int64_t n,
                 const AdamHyper& h) {
  adam_update_isa(best_isa(), param, grad, exp_avg, exp_avg_sq, n, h);
}
void adam_update(double* param, const double* grad, double* exp_avg, double* exp_avg_sq, int64_t n,
                 const AdamHyper& h) {
  ref::adam_update(param, grad, exp_avg, exp_avg_sq, n, h);
}

double lamb_update(float* param, const float* grad, float* exp_avg, float* exp_avg_sq, int64_t n,
                   const LambHyper& h) {
  return lamb_update_isa(best_isa(), param, grad, exp_avg, exp_avg_sq, n, h);
}
double lamb_update(double* param, const double* grad, double* exp_avg, double* exp_avg_sq,
                   int64_t n, const LambHyper& h) {
  return ref::lamb_update(param, grad, exp_avg, exp_avg_sq, n, h);
}

void ema_update(float* shadow, const float* value, int64_t n, double decay) {
  ema_update_isa(best_isa(), shadow, value, n, decay);
}
void ema_update(double* shadow, const double* value, int64_t n, double decay) {
  ref::ema_update(shadow, value, n, decay);
}

}  // namespace kiln::kernels
