#include "kiln/ops/unary.h"

#include "src/ops/unary/unary_kernel_op.h"

namespace kiln {

Tensor tanh(const Tensor& x) {
  return ops_internal::unary_kernel_op("tanh", x, kernels::UnaryOp::kTanh);
}

}  // namespace kiln
