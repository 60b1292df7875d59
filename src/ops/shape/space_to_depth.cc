#include "kiln/ops/shape.h"
#include "src/ops/op_util.h"

namespace kiln {

// Composite: (N, H, W, C) -> (N, H/b, b, W/b, b, C) -> (N, H/b, W/b, b, b, C)
// -> (N, H/b, W/b, b*b*C), so channels run (row offset, column offset, channel).
Tensor space_to_depth(const Tensor& x, int64_t block) {
  ops_internal::check_defined("space_to_depth", x, "input");
  ops_internal::check_rank("space_to_depth", x, 4, "input (N, H, W, C)");
  KILN_CHECK(block >= 1, "space_to_depth: block must be positive, got ", block);
  const int64_t n = x.size(0), h = x.size(1), w = x.size(2), c = x.size(3);
  KILN_CHECK(h % block == 0 && w % block == 0, "space_to_depth: height and width of ",
             shape_str(x.shape()), " must be divisible by the block ", block);
  Tensor t = reshape(x, {n, h / block, block, w / block, block, c});
  t = permute(t, {0, 1, 3, 2, 4, 5});
  return reshape(t, {n, h / block, w / block, block * block * c});
}

}  // namespace kiln
