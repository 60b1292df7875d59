#include "kiln/ops/shape.h"
#include "src/ops/op_util.h"

namespace kiln {

// Composite over reshape (a view: removing a size-1 dim never needs a copy).
Tensor squeeze(const Tensor& x, int64_t dim) {
  ops_internal::check_defined("squeeze", x, "input");
  const int64_t d = wrap_dim(dim, x.dim(), "squeeze");
  KILN_CHECK(x.shape()[d] == 1, "squeeze: dim ", dim, " of ", shape_str(x.shape()), " has size ",
             x.shape()[d], ", not 1");
  Shape shape = x.shape();
  shape.erase(shape.begin() + d);
  return reshape(x, shape);
}

}  // namespace kiln
