#include "kiln/ops/binary.h"
#include "src/ops/binary/binary_kernel.h"
#include "src/ops/op_util.h"

namespace kiln {
namespace {

// The gradient goes to the winning operand (extremum_backward).
class MinimumOp final : public autograd::Node {
 public:
  std::string_view name() const override { return "minimum"; }
  TensorList backward(const Tensor& dy, const autograd::NeedsGrad& needs) override {
    return ops_internal::extremum_backward(dy, saved(a_), saved(b_), CompareOp::kLt, needs);
  }
  int a_ = -1;
  int b_ = -1;
};

}  // namespace

Tensor minimum(const Tensor& a, const Tensor& b) {
  Tensor y = ops_internal::binary_forward("minimum", kernels::BinaryOp::kMin, a, b);
  ops_internal::record<MinimumOp>(y, {a, b}, [&](MinimumOp& node) {
    node.a_ = node.save(a);
    node.b_ = node.save(b);
  });
  return y;
}

}  // namespace kiln
