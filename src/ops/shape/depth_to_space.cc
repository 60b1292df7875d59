#include "kiln/ops/shape.h"
#include "src/ops/op_util.h"

namespace kiln {

// Composite, the inverse of space_to_depth: (N, H, W, b*b*C) ->
// (N, H, W, b, b, C) -> (N, H, b, W, b, C) -> (N, H*b, W*b, C).
Tensor depth_to_space(const Tensor& x, int64_t block) {
  ops_internal::check_defined("depth_to_space", x, "input");
  ops_internal::check_rank("depth_to_space", x, 4, "input (N, H, W, C)");
  KILN_CHECK(block >= 1, "depth_to_space: block must be positive, got ", block);
  const int64_t n = x.size(0), h = x.size(1), w = x.size(2), c = x.size(3);
  KILN_CHECK(c % (block * block) == 0, "depth_to_space: channels of ", shape_str(x.shape()),
             " must be divisible by block * block = ", block * block);
  const int64_t out_c = c / (block * block);
  Tensor t = reshape(x, {n, h, w, block, block, out_c});
  t = permute(t, {0, 1, 3, 2, 4, 5});
  return reshape(t, {n, h * block, w * block, out_c});
}

}  // namespace kiln
