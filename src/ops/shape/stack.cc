#include "kiln/ops/shape.h"
#include "src/ops/op_util.h"

namespace kiln {

// Composite: each input gets a new size-1 dim, then they are concatenated.
Tensor stack(const TensorList& xs, int64_t dim) {
  KILN_CHECK(!xs.empty(), "stack: no tensors given");
  for (const Tensor& x : xs) ops_internal::check_defined("stack", x, "input");
  const Tensor& first = xs.front();
  const int64_t d = wrap_dim(dim, first.dim() + 1, "stack");
  TensorList parts;
  parts.reserve(xs.size());
  for (const Tensor& x : xs) {
    KILN_CHECK(x.shape() == first.shape(), "stack: all tensors need the same shape, got ",
               shape_str(first.shape()), " and ", shape_str(x.shape()));
    parts.push_back(unsqueeze(x, d));
  }
  return concat(parts, d);
}

}  // namespace kiln
