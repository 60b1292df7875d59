#include "kiln/ops/unary.h"

#include "src/ops/unary/unary_kernel_op.h"

namespace kiln {

Tensor pow(const Tensor& x, double exponent) {
  return ops_internal::unary_kernel_op("pow", x, kernels::UnaryOp::kPow, {.alpha = exponent});
}

}  // namespace kiln
