#include "kiln/ops/unary.h"

#include "src/ops/unary/unary_kernel_op.h"

namespace kiln {

Tensor gelu(const Tensor& x, bool approximate) {
  return ops_internal::unary_kernel_op(
      "gelu", x, approximate ? kernels::UnaryOp::kGeluTanh : kernels::UnaryOp::kGeluErf);
}

}  // namespace kiln
