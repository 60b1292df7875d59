// Scaled dot-product attention kernels.
//
// scores (B, H, Tq, Tk) = scale * q k^T + bias, with masked entries at -inf;
// out = softmax(scores) v, lse = logsumexp of each score row. Operands are
// strided over their B, H and T dims; the last (feature) dim is contiguous,
// and each T stride, a GEMM leading dimension, is at least max(D, 1) (any
// value >= 1 when T <= 1). A row that sees no key outputs zeros, has
// lse = -inf and gets zero gradients.
//
// The fast f32 kernel is flash-attention style: it walks query blocks x key
// blocks with an online softmax and never holds more than one block of the
// score matrix per thread, forward or backward. Its backward recomputes the
// scores blockwise (see AttentionBackwardPlan); every output element is
// written by one task in a fixed order, so results do not depend on the
// thread count. Its elementwise block steps (exp, row sums)
// exist per ISA (avx2::, avx512::, and a portable version for Isa::kRef).
//
// The reference kernel materialises the scores of one (b, h) at a time (its
// backward recomputes them, ignoring out and lse); it is the test oracle and
// the f64 path of gradient checks.
#pragma once

#include <cstdint>

#include "kernels/cpu.h"

namespace kiln::kernels {

// Element strides of a (B, H, T, D) operand's B, H and T dims.
struct AttentionStrides {
  int64_t b = 0;
  int64_t h = 0;
  int64_t t = 0;
};

struct AttentionDesc {
  int64_t batch = 0;
  int64_t heads = 0;
  int64_t q_len = 0;      // Tq
  int64_t k_len = 0;      // Tk
  int64_t head_dim = 0;   // Dh of q and k
  int64_t value_dim = 0;  // Dv of v and out
  double scale = 1.0;
  bool causal = false;  // query i sees keys j <= i + (Tk - Tq)
  AttentionStrides q, k, v, out;
  AttentionStrides dout, dq, dk, dv;  // backward only
  // Bias strides over (B, H, Tq, Tk), 0 on broadcast dims (any strides).
  int64_t bias_strides[4] = {0, 0, 0, 0};
  // Key padding mask strides over (B, Tk).
  int64_t mask_strides[2] = {0, 0};
};

// Pointers of one call. Forward reads q, k, v, bias, key_padding_mask and
// writes out and lse (B, H, Tq) contiguous. Backward also reads out, lse and
// dout and writes dq, dk, dv (each may be null when not needed) and, if not
// null, dbias (B, H, Tq, Tk) contiguous, the gradient of the scores.
template <class T>
struct AttentionTensors {
  const T* q = nullptr;
  const T* k = nullptr;
  const T* v = nullptr;
  const T* bias = nullptr;                 // optional
  const bool* key_padding_mask = nullptr;  // optional, true = attend
  T* out = nullptr;
  T* lse = nullptr;
  const T* dout = nullptr;
  T* dq = nullptr;
  T* dk = nullptr;
  T* dv = nullptr;
  T* dbias = nullptr;
};

// Block sizes of the fast kernel, tuned on AMD Zen 3 at Dh = 64 (tests cover
// sizes around them): queries per block, keys per block in the forward
// (wider: its tile feeds one GEMM) and in the backward.
inline constexpr int64_t kAttentionBlockQ = 64;
inline constexpr int64_t kAttentionForwardBlockK = 256;
inline constexpr int64_t kAttentionBlockK = 128;

namespace ref {
void attention_forward(const AttentionDesc& desc, const AttentionTensors<float>& t);
void attention_forward(const AttentionDesc& desc, const AttentionTensors<double>& t);
void attention_backward(const AttentionDesc& desc, const AttentionTensors<float>& t);
void attention_backward(const AttentionDesc& desc, const AttentionTensors<double>& t);
}  // namespace ref

// Elementwise steps of the blocked kernel on (mq, nk) tiles with row stride
// ld, per ISA:
// - softmax_block: the online softmax update. Per row i: m_new = max(m[i],
//   row max); s <- exp(s - m_new); alpha[i] = exp(m[i] - m_new); l[i] <-
//   l[i] alpha[i] + row sum; m[i] <- m_new. A row still without a visible
//   key (m_new = -inf) becomes zeros with alpha[i] = 1.
// - probabilities_block: s <- exp(s - lse[i]), zeros where lse[i] = -inf.
// - score_grad_block: dp <- p (dp - delta[i]).
#define KILN_ATTENTION_BLOCK_STEPS                                                               \
  void attention_softmax_block(float* s, int64_t ld, int64_t mq, int64_t nk, float* m, float* l, \
                               float* alpha);                                                    \
  void attention_probabilities_block(float* s, int64_t ld, int64_t mq, int64_t nk,               \
                                     const float* lse);                                          \
  void attention_score_grad_block(const float* p, float* dp, int64_t ld, int64_t mq, int64_t nk, \
                                  const float* delta);
namespace avx2 {
KILN_ATTENTION_BLOCK_STEPS
}
namespace avx512 {
KILN_ATTENTION_BLOCK_STEPS
}
#undef KILN_ATTENTION_BLOCK_STEPS

// How the blocked backward splits its work. kTwoPass: one pass over
// (b, h, query block) for dq and dbias, one over (b, h, key block) for dk and
// dv, recomputing the score tiles in each (7 GEMMs per tile). kPerHead: one
// task per (b, h) walks the key blocks in order and adds to dq as it goes
// (5 GEMMs per tile, parallel over B * H only). Both compute the same tiles
// in the same order. kAuto takes kPerHead when B * H is at least 4x the
// number of processors (of the machine, never the thread count).
enum class AttentionBackwardPlan { kAuto, kPerHead, kTwoPass };

// The blocked f32 kernel with the block steps of `isa` (tests run every ISA
// this CPU has); the unqualified f32 entry points use the best ISA, f64 runs
// the reference.
void attention_forward_isa(Isa isa, const AttentionDesc& desc, const AttentionTensors<float>& t);
void attention_backward_isa(Isa isa, const AttentionDesc& desc, const AttentionTensors<float>& t,
                            AttentionBackwardPlan plan = AttentionBackwardPlan::kAuto);
void attention_forward(const AttentionDesc& desc, const AttentionTensors<float>& t);
void attention_forward(const AttentionDesc& desc, const AttentionTensors<double>& t);
void attention_backward(const AttentionDesc& desc, const AttentionTensors<float>& t);
void attention_backward(const AttentionDesc& desc, const AttentionTensors<double>& t);

}  // namespace kiln::kernels
