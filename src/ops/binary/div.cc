#include "kiln/ops/binary.h"
#include "src/ops/binary/binary_kernel.h"
#include "src/ops/op_util.h"

namespace kiln {
namespace {

// y = a / b: da = dy / b, db = -dy y / b.
class DivOp final : public autograd::Node {
 public:
  std::string_view name() const override { return "div"; }
  TensorList backward(const Tensor& dy, const autograd::NeedsGrad& needs) override {
    const Tensor& b = saved(b_);
    Tensor da = needs[0] ? div(dy, b) : Tensor();
    Tensor db = needs[1] ? neg(div(mul(dy, saved(y_)), b)) : Tensor();
    return {da, db};
  }
  int b_ = -1;
  int y_ = -1;
};

}  // namespace

Tensor div(const Tensor& a, const Tensor& b) {
  Tensor y = ops_internal::binary_forward("div", kernels::BinaryOp::kDiv, a, b);
  ops_internal::record<DivOp>(y, {a, b}, [&](DivOp& node) {
    node.b_ = node.save(b);
    if (b.requires_grad()) node.y_ = node.save(y);
  });
  return y;
}

}  // namespace kiln
