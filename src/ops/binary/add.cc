#include "kiln/ops/binary.h"
#include "src/ops/binary/binary_kernel.h"
#include "src/ops/op_util.h"

namespace kiln {
namespace {

class AddOp final : public autograd::Node {
 public:
  std::string_view name() const override { return "add"; }
  TensorList backward(const Tensor& dy, const autograd::NeedsGrad&) override { return {dy, dy}; }
};

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) {
  Tensor y = ops_internal::binary_forward("add", kernels::BinaryOp::kAdd, a, b);
  ops_internal::record<AddOp>(y, {a, b});
  return y;
}

}  // namespace kiln
