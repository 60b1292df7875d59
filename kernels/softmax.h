// Softmax kernels over the rows of a contiguous (rows, n) buffer, and the
// fused, numerically stable softmax cross-entropy over (N, C) logits.
//
// Each entry point exists per ISA (ref::, avx2::, avx512::) so tests can
// compare every ISA against the reference; the unqualified one dispatches to
// the best ISA of this CPU. f64 runs the reference only (it serves gradient
// checks). Sizes may be 0. Every row is computed by one thread, so results
// do not depend on the thread count.
//
// Rows may hold -inf (masked entries): they get probability 0 (log-prob
// -inf). A row of only -inf gives NaN, as in PyTorch.
#pragma once

#include <cstdint>

#include "kernels/cpu.h"

namespace kiln::kernels {

enum class SoftmaxKind : int { kSoftmax, kLogSoftmax };

// Cross-entropy over rows of logits (N, C) against either class indices
// `labels` (N) or soft targets `soft` (N, C) (exactly one is non-null).
// Label smoothing s mixes the target with the uniform distribution:
// q = (1 - s) target + s / C. Rows whose label is ignore_index have loss 0
// and gradient 0; every other label must be in [0, C) (the op checks).
struct CrossEntropyDesc {
  int64_t rows = 0;     // N
  int64_t classes = 0;  // C
  double label_smoothing = 0.0;
  int64_t ignore_index = -100;
};

// softmax_forward: dst = softmax(src) or log_softmax(src) per row.
// softmax_backward from the forward output dst = y and diff_dst = dy:
//   softmax:     diff_src = y * (dy - sum(dy * y))
//   log_softmax: diff_src = dy - exp(y) * sum(dy)
// cross_entropy_forward: loss (N) = sum_c q_c (lse - x_c), and lse (N) = the
// row's log-sum-exp, kept for the backward.
// cross_entropy_backward: diff_logits = diff_loss[i] * (Q softmax(x) - q)
// per row with Q = sum_c q_c (zero rows for ignored labels).
#define KILN_SOFTMAX_KERNELS(T)                                                                    \
  void softmax_forward(SoftmaxKind kind, const T* src, T* dst, int64_t rows, int64_t n);           \
  void softmax_backward(SoftmaxKind kind, const T* dst, const T* diff_dst, T* diff_src,            \
                        int64_t rows, int64_t n);                                                  \
  void cross_entropy_forward(const CrossEntropyDesc& desc, const T* logits, const int64_t* labels, \
                             const T* soft, T* loss, T* lse);                                      \
  void cross_entropy_backward(const CrossEntropyDesc& desc, const T* logits,                       \
                              const int64_t* labels, const T* soft, const T* lse,                  \
                              const T* diff_loss, T* diff_logits);

namespace ref {
KILN_SOFTMAX_KERNELS(float)
KILN_SOFTMAX_KERNELS(double)
}  // namespace ref
namespace avx2 {
KILN_SOFTMAX_KERNELS(float)
}  // namespace avx2
namespace avx512 {
KILN_SOFTMAX_KERNELS(float)
}  // namespace avx512

// Dispatch to the best ISA.
KILN_SOFTMAX_KERNELS(float)
KILN_SOFTMAX_KERNELS(double)

// Per-ISA entry points for tests.
void softmax_forward_isa(Isa isa, SoftmaxKind kind, const float* src, float* dst, int64_t rows,
                         int64_t n);
void softmax_backward_isa(Isa isa, SoftmaxKind kind, const float* dst, const float* diff_dst,
                          float* diff_src, int64_t rows, int64_t n);
void cross_entropy_forward_isa(Isa isa, const CrossEntropyDesc& desc, const float* logits,
                               const int64_t* labels, const float* soft, float* loss, float* lse);
void cross_entropy_backward_isa(Isa isa, const CrossEntropyDesc& desc, const float* logits,
                                const int64_t* labels, const float* soft, const float* lse,
                                const float* diff_loss, float* diff_logits);

}  // namespace kiln::kernels
