#include "kiln/ops/reduce.h"
#include "kiln/ops/shape.h"
#include "src/ops/op_util.h"

namespace kiln {

Tensor sum_to(const Tensor& x, IntList shape) {
  ops_internal::check_defined("sum_to", x, "input");
  const int64_t rank = x.dim();
  const int64_t target_rank = static_cast<int64_t>(shape.size());
  KILN_CHECK(target_rank <= rank, "sum_to: cannot reduce ", shape_str(x.shape()), " to ",
             shape_str(shape));
  std::vector<int64_t> dims;
  const int64_t lead = rank - target_rank;
  for (int64_t i = 0; i < rank; ++i) {
    if (i < lead) {
      dims.push_back(i);
    } else if (shape[i - lead] == 1 && x.shape()[i] != 1) {
      dims.push_back(i);
    } else {
      KILN_CHECK(shape[i - lead] == x.shape()[i], "sum_to: cannot reduce ", shape_str(x.shape()),
                 " to ", shape_str(shape));
    }
  }
  if (dims.empty()) return reshape(x, shape);
  return reshape(sum(x, dims, /*keepdim=*/true), shape);
}

}  // namespace kiln
