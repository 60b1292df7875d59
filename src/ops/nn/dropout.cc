#include "kiln/ops/binary.h"
#include "kiln/ops/nn.h"
#include "kiln/ops/random.h"
#include "src/ops/op_util.h"

namespace kiln {
namespace {

// y = x * m with m the scaled keep mask (0 or 1 / (1 - p)): dx = dy * m.
class DropoutOp final : public autograd::Node {
 public:
  std::string_view name() const override { return "dropout"; }
  TensorList backward(const Tensor& dy, const autograd::NeedsGrad&) override {
    return {mul(dy, saved(mask_))};
  }
  int mask_ = -1;
};

}  // namespace

Tensor dropout(const Tensor& x, double p, Generator& gen, bool training) {
  ops_internal::check_floating("dropout", x);
  KILN_CHECK(p >= 0 && p <= 1, "dropout: p must be in [0, 1], got ", p, " for x ",
             shape_str(x.shape()));
  if (!training || p == 0) return x;
  // p = 1 drops everything (and would scale by 1 / 0): the mask is all zero.
  Tensor mask = p == 1 ? zeros(x.shape(), x.dtype())
                       : mul_scalar(bernoulli(x.shape(), 1.0 - p, gen, x.dtype()), 1.0 / (1.0 - p));
  Tensor y;
  {
    NoGradGuard no_grad;
    y = mul(x, mask);
  }
  ops_internal::record<DropoutOp>(y, {x}, [&](DropoutOp& node) { node.mask_ = node.save(mask); });
  return y;
}

}  // namespace kiln
