#include "kiln/ops/unary.h"

#include "src/ops/unary/unary_kernel_op.h"

namespace kiln {

Tensor softplus(const Tensor& x, double beta, double threshold) {
  KILN_CHECK(beta > 0, "softplus: beta must be positive, got ", beta);
  return ops_internal::unary_kernel_op("softplus", x, kernels::UnaryOp::kSoftplus,
                                       {.alpha = beta, .beta = threshold});
}

}  // namespace kiln
