#include "kiln/ops/shape.h"
#include "src/ops/op_util.h"

namespace kiln {

// Composite over reshape. A 0-d tensor flattens to (1).
Tensor flatten(const Tensor& x, int64_t start_dim, int64_t end_dim) {
  ops_internal::check_defined("flatten", x, "input");
  if (x.dim() == 0) return reshape(x, {1});
  const int64_t start = wrap_dim(start_dim, x.dim(), "flatten");
  const int64_t end = wrap_dim(end_dim, x.dim(), "flatten");
  KILN_CHECK(start <= end, "flatten: start dim ", start_dim, " is after end dim ", end_dim, " for ",
             shape_str(x.shape()));
  Shape shape(x.shape().begin(), x.shape().begin() + start);
  int64_t merged = 1;
  for (int64_t i = start; i <= end; ++i) merged *= x.shape()[i];
  shape.push_back(merged);
  shape.insert(shape.end(), x.shape().begin() + end + 1, x.shape().end());
  return reshape(x, shape);
}

}  // namespace kiln
