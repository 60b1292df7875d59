#include "kiln/ops/nn.h"
#include "kiln/ops/shape.h"
#include "src/ops/op_util.h"

namespace kiln {

// Composite: (N, H, W, C) -> (N, H, 1, W, 1, C) -> expand to
// (N, H, sh, W, sw, C) -> (N, H*sh, W*sw, C). The reshape copies the
// expanded view; expand's backward sums the gradient over each block.
Tensor upsample_nearest2d(const Tensor& x, int64_t scale_h, int64_t scale_w) {
  ops_internal::check_defined("upsample_nearest2d", x, "input");
  ops_internal::check_rank("upsample_nearest2d", x, 4, "input (N, H, W, C)");
  KILN_CHECK(scale_h >= 1 && scale_w >= 1, "upsample_nearest2d: scale (", scale_h, ", ", scale_w,
             ") must be >= 1 for x ", shape_str(x.shape()));
  const int64_t n = x.size(0), h = x.size(1), w = x.size(2), c = x.size(3);
  const Tensor t = reshape(x, {n, h, 1, w, 1, c});
  return reshape(expand(t, {n, h, scale_h, w, scale_w, c}), {n, h * scale_h, w * scale_w, c});
}

}  // namespace kiln
