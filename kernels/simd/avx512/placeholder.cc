// TEMPORARY: forwards to ref until the SIMD kernels land.
#include "kernels/convert.h"
#include "kernels/elementwise.h"
#include "kernels/reduce.h"

namespace kiln::kernels::avx512 {
void unary_forward(UnaryOp op, const float* src, float* dst, int64_t n, UnaryParams params) {
  ref::unary_forward(op, src, dst, n, params);
}
void unary_backward(UnaryOp op, const float* src, const float* dst, const float* diff_dst,
                    float* diff_src, int64_t n, UnaryParams params) {
  ref::unary_backward(op, src, dst, diff_dst, diff_src, n, params);
}
void binary_forward(BinaryOp op, const BroadcastDesc& desc, const float* a, const float* b,
                    float* dst) {
  ref::binary_forward(op, desc, a, b, dst);
}
void reduce(ReduceOp op, const float* src, float* dst, int64_t outer, int64_t r, int64_t inner) {
  ref::reduce(op, src, dst, outer, r, inner);
}
void f32_to_bf16(const float* src, uint16_t* dst, int64_t n) { ref::f32_to_bf16(src, dst, n); }
void bf16_to_f32(const uint16_t* src, float* dst, int64_t n) { ref::bf16_to_f32(src, dst, n); }
}  // namespace kiln::kernels::avx512
