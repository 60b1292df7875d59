// Normalisation kernels: layer norm over the last dim of a contiguous
// (rows, d) buffer.
//
// Each entry point exists per ISA (ref::, avx2::, avx512::) so tests can
// compare every ISA against the reference; the unqualified one dispatches to
// the best ISA of this CPU. f64 runs the reference only (it serves gradient
// checks). `rows` and `d` may be 0.
//
// Results do not depend on the thread count: every row is computed by one
// thread, and d_gamma / d_beta are summed over fixed blocks of
// kNormRowBlock rows, then the blocks merged in order.
#pragma once

#include <cstdint>

#include "kernels/cpu.h"

namespace kiln::kernels {

// Rows summed together into one partial d_gamma / d_beta.
inline constexpr int64_t kNormRowBlock = 64;

// Forward: dst = (src - mean) * rstd * gamma + beta per row, with
// rstd = 1 / sqrt(var + eps) (biased variance). gamma and beta are (d) or
// null (1 and 0). mean and rstd (rows) are written for the backward.
//
// Backward: with xhat = (src - mean) * rstd and g = diff_dst * gamma,
//   diff_src   = rstd * (g - mean(g) - xhat * mean(g * xhat))   per row,
//   diff_gamma = sum over rows of diff_dst * xhat,
//   diff_beta  = sum over rows of diff_dst.
// Any of diff_src, diff_gamma, diff_beta may be null (not wanted).
#define KILN_NORM_KERNELS(T)                                                                     \
  void layer_norm_forward(const T* src, const T* gamma, const T* beta, T* dst, T* mean, T* rstd, \
                          int64_t rows, int64_t d, double eps);                                  \
  void layer_norm_backward(const T* src, const T* gamma, const T* mean, const T* rstd,           \
                           const T* diff_dst, T* diff_src, T* diff_gamma, T* diff_beta,          \
                           int64_t rows, int64_t d);

namespace ref {
KILN_NORM_KERNELS(float)
KILN_NORM_KERNELS(double)
}  // namespace ref
namespace avx2 {
KILN_NORM_KERNELS(float)
}  // namespace avx2
namespace avx512 {
KILN_NORM_KERNELS(float)
}  // namespace avx512

// Dispatch to the best ISA.
KILN_NORM_KERNELS(float)
KILN_NORM_KERNELS(double)

// Per-ISA entry points for tests.
void layer_norm_forward_isa(Isa isa, const float* src, const float* gamma, const float* beta,
                            float* dst, float* mean, float* rstd, int64_t rows, int64_t d,
                            double eps);
void layer_norm_backward_isa(Isa isa, const float* src, const float* gamma, const float* mean,
                             const float* rstd, const float* diff_dst, float* diff_src,
                             float* diff_gamma, float* diff_beta, int64_t rows, int64_t d);

}  // namespace kiln::kernels
