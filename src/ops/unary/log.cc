#include "kiln/ops/unary.h"

#include "src/ops/unary/unary_kernel_op.h"

namespace kiln {

Tensor log(const Tensor& x) {
  return ops_internal::unary_kernel_op("log", x, kernels::UnaryOp::kLog);
}

}  // namespace kiln
