#include "kiln/ops/unary.h"

#include "src/ops/unary/unary_kernel_op.h"

namespace kiln {

Tensor neg(const Tensor& x) {
  return ops_internal::unary_kernel_op("neg", x, kernels::UnaryOp::kNeg);
}

}  // namespace kiln
