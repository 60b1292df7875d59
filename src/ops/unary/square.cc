#include "kiln/ops/unary.h"

#include "src/ops/unary/unary_kernel_op.h"

namespace kiln {

Tensor square(const Tensor& x) {
  return ops_internal::unary_kernel_op("square", x, kernels::UnaryOp::kSquare);
}

}  // namespace kiln
