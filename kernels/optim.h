// Optimizer kernels: the fused per-tensor updates of SGD (NFNets form),
// Adam/AdamW and LAMB, adaptive gradient clipping (AGC), the gradient sum of
// squares with its finiteness check, and the EMA update.
//
// Each entry point exists per ISA (ref::, avx2::, avx512::) so tests can
// compare every ISA against the reference; the unqualified one dispatches to
// the best ISA of this CPU. f64 runs the reference only. All buffers are
// contiguous and `n` may be 0. Elementwise updates give each element the same
// result whatever the thread count; sums run in fixed blocks of kReduceBlock
// elements merged in order, so they do not depend on it either.
#pragma once

#include <cstdint>

#include "kernels/cpu.h"
#include "kernels/reduce.h"

namespace kiln::kernels {

// Sum of squares of a buffer and whether every element is finite (no NaN,
// no Inf). The flag does not rely on the sum: a large finite gradient whose
// square overflows is still reported finite.
struct SumSquares {
  double sum_squares = 0;
  bool finite = true;
};

// SGD as in deepmind-research nfnets/optim.py (SGD.update_param), per element:
//   g = grad + weight_decay * param
//   buf = momentum * buf + (1 - dampening) * g          (buf starts at 0)
//   g = nesterov ? g + momentum * buf : buf
//   param -= lr * g
// With momentum_buf == nullptr there is no momentum: param -= lr * g.
struct SgdHyper {
  double lr = 0;
  double momentum = 0;
  double dampening = 0;
  double weight_decay = 0;
  bool nesterov = false;
};

// Adam (Kingma & Ba) in PyTorch's form, per element:
//   decoupled (AdamW): param *= 1 - lr * weight_decay
//   else (Adam, L2):   g = grad + weight_decay * param
//   m = beta1 * m + (1 - beta1) * g
//   v = beta2 * v + (1 - beta2) * g * g
//   param -= (lr / bias_correction1) * m / (sqrt(v) / sqrt(bias_correction2) + eps)
// bias_correction{1,2} = 1 - beta{1,2}^step, computed by the caller.
struct AdamHyper {
  double lr = 0;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0;
  bool decoupled = false;
  double bias_correction1 = 1;
  double bias_correction2 = 1;
};

// LAMB (You et al. 2019, Algorithm 2, with bias correction and phi = id):
//   m = beta1 * m + (1 - beta1) * g;  v = beta2 * v + (1 - beta2) * g * g
//   u = (m / bias_correction1) / (sqrt(v / bias_correction2) + eps) + weight_decay * param
//   trust = ||param|| / ||u||, or 1 when either norm is 0
//   param -= lr * trust * u
// Two passes over the tensor in one call: moments and both norms, then the
// update (u is recomputed, bit for bit). Returns the trust ratio.
struct LambHyper {
  double lr = 0;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-6;
  double weight_decay = 0;
  double bias_correction1 = 1;
  double bias_correction2 = 1;
};

// The entry points, per element type:
// - sum_squares_finite: the sum of squares of x[0, n) and the finiteness flag.
// - agc_clip: AGC on a (rows, cols) row-major tensor whose units are its
//   columns (cols == 1: the whole tensor is one unit). Per unit j, as
//   nfnets/optim.py SGD_AGC:
//     max_norm = max(||param_j||, eps) * clipping
//     grad_j *= max_norm / max(||grad_j||, 1e-6)   if ||grad_j|| > max_norm
// - sgd_update, adam_update, lamb_update: the updates above, in place.
// - ema_update: shadow = shadow * decay + value * (1 - decay), as
//   nfnets/utils.py ema.
#define KILN_OPTIM_KERNELS(T)                                                                      \
  SumSquares sum_squares_finite(const T* x, int64_t n);                                            \
  void agc_clip(const T* param, T* grad, int64_t rows, int64_t cols, double clipping, double eps); \
  void sgd_update(T* param, const T* grad, T* momentum_buf, int64_t n, const SgdHyper& h);         \
  void adam_update(T* param, const T* grad, T* exp_avg, T* exp_avg_sq, int64_t n,                  \
                   const AdamHyper& h);                                                            \
  double lamb_update(T* param, const T* grad, T* exp_avg, T* exp_avg_sq, int64_t n,                \
                     const LambHyper& h);                                                          \
  void ema_update(T* shadow, const T* value, int64_t n, double decay);

namespace ref {
KILN_OPTIM_KERNELS(float)
KILN_OPTIM_KERNELS(double)
// AGC's per-unit scale from the units' squared norms (shared by every ISA so
// the decision is made identically): scale[j] = max_norm / max(||g||, 1e-6)
// where the unit clips, else 1. Returns whether any unit clips.
bool agc_unit_scales(const float* param_sq, const float* grad_sq, float* scale, int64_t cols,
                     double clipping, double eps);
bool agc_unit_scales(const double* param_sq, const double* grad_sq, double* scale, int64_t cols,
                     double clipping, double eps);
}  // namespace ref
namespace avx2 {
KILN_OPTIM_KERNELS(float)
}
namespace avx512 {
KILN_OPTIM_KERNELS(float)
}

// Dispatch to the best ISA.
KILN_OPTIM_KERNELS(float)
KILN_OPTIM_KERNELS(double)

// Per-ISA entry points for tests.
SumSquares sum_squares_finite_isa(Isa isa, const float* x, int64_t n);
void agc_clip_isa(Isa isa, const float* param, float* grad, int64_t rows, int64_t cols,
                  double clipping, double eps);
void sgd_update_isa(Isa isa, float* param, const float* grad, float* momentum_buf, int64_t n,
                    const SgdHyper& h);
void adam_update_isa(Isa isa, float* param, const float* grad, float* exp_avg, float* exp_avg_sq,
                     int64_t n, const AdamHyper& h);
double lamb_update_isa(Isa isa, float* param, const float* grad, float* exp_avg, float* exp_avg_sq,
                       int64_t n, const LambHyper& h);
void ema_update_isa(Isa isa, float* shadow, const float* value, int64_t n, double decay);

}  // namespace kiln::kernels
