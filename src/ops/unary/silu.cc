#include "kiln/ops/unary.h"

#include "src/ops/unary/unary_kernel_op.h"

namespace kiln {

Tensor silu(const Tensor& x) {
  return ops_internal::unary_kernel_op("silu", x, kernels::UnaryOp::kSilu);
}

}  // namespace kiln
