#include "kiln/ops/nn.h"
#include "kiln/ops/reduce.h"
#include "kiln/ops/shape.h"
#include "src/ops/op_util.h"

namespace kiln {
namespace {

// The gradient of each input pixel is the sum of its (sh, sw) block of dy:
// the block's columns first, then its rows, two reductions over a middle
// dim that read contiguous runs (one reduction over dims 2 and 4 of
// (N, H, sh, W, sw, C) is about 20x slower at DGMR's sizes).
class UpsampleNearest2dOp final : public autograd::Node {
 public:
  std::string_view name() const override { return "upsample_nearest2d"; }
  TensorList backward(const Tensor& dy, const autograd::NeedsGrad&) override {
    const int64_t n = input_shape_[0], h = input_shape_[1], w = input_shape_[2],
                  c = input_shape_[3];
    const Tensor columns = sum(reshape(dy, {n * h * scale_h_ * w, scale_w_, c}), {1});
    const Tensor blocks = sum(reshape(columns, {n * h, scale_h_, w * c}), {1});
    return {reshape(blocks, input_shape_)};
  }
  Shape input_shape_;
  int64_t scale_h_ = 1, scale_w_ = 1;
};

}  // namespace

// Forward: (N, H, W, C) -> (N, H, 1, W, 1, C) -> expand to
// (N, H, sh, W, sw, C) -> (N, H*sh, W*sw, C), the reshape copying the
// expanded view.
Tensor upsample_nearest2d(const Tensor& x, int64_t scale_h, int64_t scale_w) {
  ops_internal::check_defined("upsample_nearest2d", x, "input");
  ops_internal::check_rank("upsample_nearest2d", x, 4, "input (N, H, W, C)");
  KILN_CHECK(scale_h >= 1 && scale_w >= 1, "upsample_nearest2d: scale (", scale_h, ", ", scale_w,
             ") must be >= 1 for x ", shape_str(x.shape()));
  const int64_t n = x.size(0), h = x.size(1), w = x.size(2), c = x.size(3);
  Tensor y;
  {
    NoGradGuard no_grad;
    const Tensor blocks = expand(reshape(x, {n, h, 1, w, 1, c}), {n, h, scale_h, w, scale_w, c});
    y = reshape(blocks, {n, h * scale_h, w * scale_w, c});
  }
  ops_internal::record<UpsampleNearest2dOp>(y, {x}, [&](UpsampleNearest2dOp& node) {
    node.input_shape_ = x.shape();
    node.scale_h_ = scale_h;
    node.scale_w_ = scale_w;
  });
  return y;
}

}  // namespace kiln
