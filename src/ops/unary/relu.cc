#include "kiln/ops/unary.h"

#include "src/ops/unary/unary_kernel_op.h"

namespace kiln {

Tensor relu(const Tensor& x) {
  return ops_internal::unary_kernel_op("relu", x, kernels::UnaryOp::kRelu);
}

}  // namespace kiln
