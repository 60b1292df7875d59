// Picks the elementwise kernels of the best ISA this CPU runs.
#include "kernels/elementwise.h"

namespace kiln::kernels {

void unary_forward_isa(Isa isa, UnaryOp op, const float* src, float* dst, int64_t n,
                       UnaryParams params) {
  switch (isa) {
    case Isa::kAvx512:
      return avx512::unary_forward(op, src, dst, n, params);
    case Isa::kAvx2:
      return avx2::unary_forward(op, src, dst, n, params);
    case Isa::kRef:
      break;
  }
  ref::unary_forward(op, src, dst, n, params);
}

void unary_backward_isa(Isa isa, UnaryOp op, const float* src, const float* dst,
                        const float* diff_dst, float* diff_src, int64_t n, UnaryParams params) {
  switch (isa) {
    case Isa::kAvx512:
      return avx512::unary_backward(op, src, dst, diff_dst, diff_src, n, params);
    case Isa::kAvx2:
      return avx2::unary_backward(op, src, dst, diff_dst, diff_src, n, params);
    case Isa::kRef:
      break;
  }
  ref::unary_backward(op, src, dst, diff_dst, diff_src, n, params);
}

void binary_forward_isa(Isa isa, BinaryOp op, const BroadcastDesc& desc, const float* a,
                        const float* b, float* dst) {
  switch (isa) {
    case Isa::kAvx512:
      return avx512::binary_forward(op, desc, a, b, dst);
    case Isa::kAvx2:
      return avx2::binary_forward(op, desc, a, b, dst);
    case Isa::kRef:
      break;
  }
  ref::binary_forward(op, desc, a, b, dst);
}

void unary_forward(UnaryOp op, const float* src, float* dst, int64_t n, UnaryParams params) {
  unary_forward_isa(best_isa(), op, src, dst, n, params);
}
void unary_forward(UnaryOp op, const double* src, double* dst, int64_t n, UnaryParams params) {
  ref::unary_forward(op, src, dst, n, params);
}
void unary_backward(UnaryOp op, const float* src, const float* dst, const float* diff_dst,
                    float* diff_src, int64_t n, UnaryParams params) {
  unary_backward_isa(best_isa(), op, src, dst, diff_dst, diff_src, n, params);
}
void unary_backward(UnaryOp op, const double* src, const double* dst, const double* diff_dst,
                    double* diff_src, int64_t n, UnaryParams params) {
  ref::unary_backward(op, src, dst, diff_dst, diff_src, n, params);
}
void binary_forward(BinaryOp op, const BroadcastDesc& desc, const float* a, const float* b,
                    float* dst) {
  binary_forward_isa(best_isa(), op, desc, a, b, dst);
}
void binary_forward(BinaryOp op, const BroadcastDesc& desc, const double* a, const double* b,
                    double* dst) {
  ref::binary_forward(op, desc, a, b, dst);
}

}  // namespace kiln::kernels
