#include "kiln/ops/unary.h"

#include "src/ops/unary/unary_kernel_op.h"

namespace kiln {

Tensor leaky_relu(const Tensor& x, double negative_slope) {
  return ops_internal::unary_kernel_op("leaky_relu", x, kernels::UnaryOp::kLeakyRelu,
                                       {.alpha = negative_slope});
}

}  // namespace kiln
