#include "kiln/ops/binary.h"
#include "src/ops/binary/binary_kernel.h"
#include "src/ops/op_util.h"

namespace kiln {
namespace {

// d(a b) = b da + a db: each operand is saved only if the other needs it.
class MulOp final : public autograd::Node {
 public:
  std::string_view name() const override { return "mul"; }
  TensorList backward(const Tensor& dy, const autograd::NeedsGrad& needs) override {
    return {needs[0] ? mul(dy, saved(b_)) : Tensor(), needs[1] ? mul(dy, saved(a_)) : Tensor()};
  }
  int a_ = -1;
  int b_ = -1;
};

}  // namespace

Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor y = ops_internal::binary_forward("mul", kernels::BinaryOp::kMul, a, b);
  ops_internal::record<MulOp>(y, {a, b}, [&](MulOp& node) {
    if (b.requires_grad()) node.a_ = node.save(a);
    if (a.requires_grad()) node.b_ = node.save(b);
  });
  return y;
}

}  // namespace kiln
