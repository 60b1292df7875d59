#include "kiln/ops/binary.h"
#include "src/ops/binary/binary_kernel.h"
#include "src/ops/op_util.h"

namespace kiln {
namespace {

class SubOp final : public autograd::Node {
 public:
  std::string_view name() const override { return "sub"; }
  TensorList backward(const Tensor& dy, const autograd::NeedsGrad& needs) override {
    return {dy, needs[1] ? neg(dy) : Tensor()};
  }
};

}  // namespace

Tensor sub(const Tensor& a, const Tensor& b) {
  Tensor y = ops_internal::binary_forward("sub", kernels::BinaryOp::kSub, a, b);
  ops_internal::record<SubOp>(y, {a, b});
  return y;
}

}  // namespace kiln
