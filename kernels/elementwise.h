// Elementwise kernels: unary activations with their fused backward, and
// binary arithmetic over broadcast operands.
//
// Each entry point exists per ISA (ref::, avx2::, avx512::) so tests can
// compare every ISA against the reference; the unqualified one dispatches to
// the best ISA of this CPU. f64 runs the reference only (it serves gradient
// checks). All contiguous; `n` may be 0.
#pragma once

#include <cstdint>

#include "kernels/cpu.h"

namespace kiln::kernels {

enum class UnaryOp : int {
  kNeg,
  kAbs,
  kExp,
  kLog,
  kSqrt,
  kRsqrt,
  kSquare,
  kPow,  // x ^ alpha
  kTanh,
  kSigmoid,
  kRelu,
  kLeakyRelu,  // slope alpha
  kGeluTanh,   // tanh approximation, as jax.nn.gelu
  kGeluErf,    // exact
  kSilu,
  kSoftplus,   // log(1 + exp(alpha x)) / alpha, linear above x * alpha > beta
  kClamp,      // to [alpha, beta]
  kAddScalar,  // x + alpha
  kMulScalar,  // x * alpha
};

struct UnaryParams {
  double alpha = 0;
  double beta = 0;
};

// What the derivative of each op reads: its input x, its output y, or
// neither. (static: this header is included by files built for other ISAs.)
enum class UnaryNeeds { kNone, kInput, kOutput };
static constexpr UnaryNeeds unary_derivative_needs(UnaryOp op) {
  switch (op) {
    case UnaryOp::kNeg:
    case UnaryOp::kAddScalar:
    case UnaryOp::kMulScalar:
      return UnaryNeeds::kNone;
    case UnaryOp::kExp:
    case UnaryOp::kSqrt:
    case UnaryOp::kRsqrt:
    case UnaryOp::kTanh:
    case UnaryOp::kSigmoid:
      return UnaryNeeds::kOutput;
    default:
      return UnaryNeeds::kInput;
  }
}

// diff_src[i] = diff_dst[i] * d op(x) / dx at x = src[i], where y = dst[i]
// = op(x). Only the operand unary_derivative_needs(op) names is read; the
// other may alias it.
#define KILN_UNARY_KERNELS(T)                                                                 \
  void unary_forward(UnaryOp op, const T* src, T* dst, int64_t n, UnaryParams params);        \
  void unary_backward(UnaryOp op, const T* src, const T* dst, const T* diff_dst, T* diff_src, \
                      int64_t n, UnaryParams params);

enum class BinaryOp : int { kAdd, kSub, kMul, kDiv, kMax, kMin };

// Operands of a broadcast binary op after dims are coalesced: `shape` is the
// output shape, `a_strides`/`b_strides` the operands' element strides in it
// (0 where broadcast). The output is contiguous.
struct BroadcastDesc {
  static constexpr int kMaxRank = 8;
  int rank = 0;
  int64_t shape[kMaxRank] = {};
  int64_t a_strides[kMaxRank] = {};
  int64_t b_strides[kMaxRank] = {};
};

#define KILN_BINARY_KERNELS(T) \
  void binary_forward(BinaryOp op, const BroadcastDesc& desc, const T* a, const T* b, T* dst);

namespace ref {
KILN_UNARY_KERNELS(float)
KILN_UNARY_KERNELS(double)
KILN_BINARY_KERNELS(float)
KILN_BINARY_KERNELS(double)
}  // namespace ref
namespace avx2 {
KILN_UNARY_KERNELS(float)
KILN_BINARY_KERNELS(float)
}  // namespace avx2
namespace avx512 {
KILN_UNARY_KERNELS(float)
KILN_BINARY_KERNELS(float)
}  // namespace avx512

// Dispatch to the best ISA.
KILN_UNARY_KERNELS(float)
KILN_UNARY_KERNELS(double)
KILN_BINARY_KERNELS(float)
KILN_BINARY_KERNELS(double)

// Per-ISA table for tests.
void unary_forward_isa(Isa isa, UnaryOp op, const float* src, float* dst, int64_t n,
                       UnaryParams params);
void unary_backward_isa(Isa isa, UnaryOp op, const float* src, const float* dst,
                        const float* diff_dst, float* diff_src, int64_t n, UnaryParams params);
void binary_forward_isa(Isa isa, BinaryOp op, const BroadcastDesc& desc, const float* a,
                        const float* b, float* dst);

}  // namespace kiln::kernels
