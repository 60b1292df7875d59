#include "kiln/ops/unary.h"

#include "src/ops/unary/unary_kernel_op.h"

namespace kiln {

Tensor rsqrt(const Tensor& x) {
  return ops_internal::unary_kernel_op("rsqrt", x, kernels::UnaryOp::kRsqrt);
}

}  // namespace kiln
