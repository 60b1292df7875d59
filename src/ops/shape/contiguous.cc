#include "kiln/ops/shape.h"
#include "src/ops/op_util.h"

namespace kiln {
namespace {

class ContiguousOp final : public autograd::Node {
 public:
  std::string_view name() const override { return "contiguous"; }
  TensorList backward(const Tensor& dy, const autograd::NeedsGrad&) override { return {dy}; }
};

}  // namespace

Tensor contiguous(const Tensor& x) {
  ops_internal::check_defined("contiguous", x, "input");
  if (x.is_contiguous()) return x;
  Tensor y = as_contiguous(x);
  ops_internal::record<ContiguousOp>(y, {x});
  return y;
}

}  // namespace kiln
