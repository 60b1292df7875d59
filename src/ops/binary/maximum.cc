#include "kiln/ops/binary.h"
#include "kiln/ops/shape.h"
#include "src/ops/binary/binary_kernel.h"
#include "src/ops/op_util.h"

namespace kiln {
namespace {

// The gradient goes to the winning operand; ties split it equally.
class MaximumOp final : public autograd::Node {
 public:
  std::string_view name() const override { return "maximum"; }
  TensorList backward(const Tensor& dy, const autograd::NeedsGrad& needs) override {
    const Tensor& a = saved(a_);
    const Tensor& b = saved(b_);
    Tensor zero = zeros({}, dy.dtype());
    Tensor half = mul_scalar(dy, 0.5);
    Tensor tie = eq(a, b);
    Tensor a_wins = compare(a, b, CompareOp::kGt);
    Tensor da = needs[0] ? where(a_wins, dy, where(tie, half, zero)) : Tensor();
    Tensor db = needs[1] ? where(a_wins, zero, where(tie, half, dy)) : Tensor();
    return {da, db};
  }
  int a_ = -1;
  int b_ = -1;
};

}  // namespace

Tensor maximum(const Tensor& a, const Tensor& b) {
  Tensor y = ops_internal::binary_forward("maximum", kernels::BinaryOp::kMax, a, b);
  ops_internal::record<MaximumOp>(y, {a, b}, [&](MaximumOp& node) {
    node.a_ = node.save(a);
    node.b_ = node.save(b);
  });
  return y;
}

}  // namespace kiln
