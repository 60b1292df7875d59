#include "kiln/ops/unary.h"

#include "src/ops/unary/unary_kernel_op.h"

namespace kiln {

Tensor exp(const Tensor& x) {
  return ops_internal::unary_kernel_op("exp", x, kernels::UnaryOp::kExp);
}

}  // namespace kiln
