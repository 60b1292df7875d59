#include "kiln/ops/reduce.h"
#include "kiln/ops/shape.h"
#include "src/ops/broadcast.h"
#include "src/ops/op_util.h"

namespace kiln {
namespace {

class ExpandOp final : public autograd::Node {
 public:
  std::string_view name() const override { return "expand"; }
  // The engine sums the gradient back to the input's shape.
  TensorList backward(const Tensor& dy, const autograd::NeedsGrad&) override { return {dy}; }
};

}  // namespace

Tensor expand(const Tensor& x, IntList shape) {
  ops_internal::check_defined("expand", x, "input");
  KILN_CHECK(static_cast<int64_t>(shape.size()) >= x.dim(), "expand: cannot expand ",
             shape_str(x.shape()), " to ", shape_str(shape));
  Shape target(shape.begin(), shape.end());
  const size_t lead = shape.size() - x.shape().size();
  for (size_t i = lead; i < shape.size(); ++i) {
    if (target[i] == -1) target[i] = x.shape()[i - lead];
  }
  Tensor y = ops_internal::broadcast_view(x, target, "expand");
  ops_internal::record<ExpandOp>(y, {x});
  return y;
}

}  // namespace kiln
