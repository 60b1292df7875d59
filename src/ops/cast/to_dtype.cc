#include "kiln/ops/cast.h"
#include "src/ops/op_util.h"

namespace kiln {
namespace {

class ToDtypeOp final : public autograd::Node {
 public:
  std::string_view name() const override { return "to_dtype"; }
  TensorList backward(const Tensor& dy, const autograd::NeedsGrad&) override {
    return {to_dtype(dy, input_dtype_)};
  }
  DType input_dtype_ = DType::kF32;
};

}  // namespace

Tensor to_dtype(const Tensor& x, DType dtype) {
  ops_internal::check_defined("to_dtype", x, "input");
  if (x.dtype() == dtype) return x;
  Tensor y = Tensor::empty(x.shape(), dtype);
  copy_into(y, x);
  if (is_floating(x.dtype()) && is_floating(dtype)) {
    ops_internal::record<ToDtypeOp>(y, {x},
                                    [&](ToDtypeOp& node) { node.input_dtype_ = x.dtype(); });
  }
  return y;
}

}  // namespace kiln
