#include "kiln/ops/shape.h"
#include "src/ops/op_util.h"

namespace kiln {
namespace {

class CloneOp final : public autograd::Node {
 public:
  std::string_view name() const override { return "clone"; }
  TensorList backward(const Tensor& dy, const autograd::NeedsGrad&) override { return {dy}; }
};

}  // namespace

Tensor clone(const Tensor& x) {
  ops_internal::check_defined("clone", x, "input");
  Tensor y = Tensor::empty(x.shape(), x.dtype());
  copy_into(y, x);
  ops_internal::record<CloneOp>(y, {x});
  return y;
}

}  // namespace kiln
