#include "kiln/ops/unary.h"

#include "src/ops/unary/unary_kernel_op.h"

namespace kiln {

Tensor mul_scalar(const Tensor& x, double value) {
  return ops_internal::unary_kernel_op("mul_scalar", x, kernels::UnaryOp::kMulScalar,
                                       {.alpha = value});
}

}  // namespace kiln
