#include "kiln/ops/unary.h"

#include "src/ops/unary/unary_kernel_op.h"

namespace kiln {

Tensor sqrt(const Tensor& x) {
  return ops_internal::unary_kernel_op("sqrt", x, kernels::UnaryOp::kSqrt);
}

}  // namespace kiln
