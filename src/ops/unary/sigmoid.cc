#include "kiln/ops/unary.h"

#include "src/ops/unary/unary_kernel_op.h"

namespace kiln {

Tensor sigmoid(const Tensor& x) {
  return ops_internal::unary_kernel_op("sigmoid", x, kernels::UnaryOp::kSigmoid);
}

}  // namespace kiln
