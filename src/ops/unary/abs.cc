#include "kiln/ops/unary.h"

#include "src/ops/unary/unary_kernel_op.h"

namespace kiln {

Tensor abs(const Tensor& x) {
  return ops_internal::unary_kernel_op("abs", x, kernels::UnaryOp::kAbs);
}

}  // namespace kiln
