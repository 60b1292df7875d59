#include "kiln/ops/binary.h"
#include "kiln/ops/reduce.h"
#include "src/ops/op_util.h"
#include "src/ops/reduce/reduce_kernel.h"

namespace kiln {

Tensor var(const Tensor& x, IntList dims, bool keepdim, int64_t correction) {
  ops_internal::check_defined("var", x, "input");
  const auto d = ops_internal::normalize_dims(dims, x.dim(), "var");
  const int64_t count = ops_internal::reduced_count(x.shape(), d);
  KILN_CHECK(count - correction > 0, "var: ", count, " elements with correction ", correction);
  Tensor centered = sub(x, mean(x, dims, /*keepdim=*/true));
  return mul_scalar(sum(square(centered), dims, keepdim),
                    1.0 / static_cast<double>(count - correction));
}

}  // namespace kiln
