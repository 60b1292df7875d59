#include "kiln/ops/binary.h"
#include "src/ops/binary/binary_kernel.h"
#include "src/ops/op_util.h"

namespace kiln {
namespace {

// The gradient goes to the winning operand (extremum_backward).
class MaximumOp final : public autograd::Node {
 public:
  std::string_view name() const override { return "maximum"; }
  TensorList backward(const Tensor& dy, const autograd::NeedsGrad& needs) override {
    return ops_internal::extremum_backward(dy, saved(a_), saved(b_), CompareOp::kGt, needs);
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
