#include "kiln/ops/shape.h"
#include "src/ops/op_util.h"

namespace kiln {

// Composite over reshape (always a view). dim may be x.dim() (append).
Tensor unsqueeze(const Tensor& x, int64_t dim) {
  ops_internal::check_defined("unsqueeze", x, "input");
  const int64_t d = wrap_dim(dim, x.dim() + 1, "unsqueeze");
  Shape shape = x.shape();
  shape.insert(shape.begin() + d, 1);
  return reshape(x, shape);
}

}  // namespace kiln
