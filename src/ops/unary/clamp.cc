#include "kiln/ops/unary.h"

#include "src/ops/unary/unary_kernel_op.h"

namespace kiln {

Tensor clamp(const Tensor& x, double lo, double hi) {
  KILN_CHECK(lo <= hi, "clamp: lo ", lo, " is above hi ", hi);
  return ops_internal::unary_kernel_op("clamp", x, kernels::UnaryOp::kClamp,
                                       {.alpha = lo, .beta = hi});
}

}  // namespace kiln
