#include <cmath>

#include "kiln/ops/binary.h"
#include "kiln/ops/reduce.h"
#include "kiln/ops/shape.h"
#include "src/ops/op_util.h"
#include "src/ops/reduce/reduce_kernel.h"

namespace kiln {

Tensor logsumexp(const Tensor& x, IntList dims, bool keepdim) {
  ops_internal::check_defined("logsumexp", x, "input");
  // Shift by the (constant) max for stability; a row of -inf keeps shift 0.
  Tensor shift;
  {
    NoGradGuard no_grad;
    Tensor m = max(x, dims, /*keepdim=*/true);
    shift = where(compare(abs(m), INFINITY, CompareOp::kLt), m, zeros({}, x.dtype()));
  }
  Tensor out = add(log(sum(exp(sub(x, shift)), dims, /*keepdim=*/true)), shift);
  if (keepdim) return out;
  const auto d = ops_internal::normalize_dims(dims, x.dim(), "logsumexp");
  return reshape(out, ops_internal::reduced_shape(x.shape(), d, false));
}

}  // namespace kiln
