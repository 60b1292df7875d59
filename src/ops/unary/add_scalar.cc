#include "kiln/ops/unary.h"

#include "src/ops/unary/unary_kernel_op.h"

namespace kiln {

Tensor add_scalar(const Tensor& x, double value) {
  return ops_internal::unary_kernel_op("add_scalar", x, kernels::UnaryOp::kAddScalar,
                                       {.alpha = value});
}

}  // namespace kiln
