#include "kiln/ops/binary.h"
#include "kiln/ops/reduce.h"
#include "src/ops/op_util.h"
#include "src/ops/reduce/reduce_kernel.h"

namespace kiln {

Tensor mean(const Tensor& x, IntList dims, bool keepdim) {
  ops_internal::check_defined("mean", x, "input");
  const int64_t count =
      ops_internal::reduced_count(x.shape(), ops_internal::normalize_dims(dims, x.dim(), "mean"));
  return mul_scalar(sum(x, dims, keepdim), 1.0 / static_cast<double>(count));
}

}  // namespace kiln
