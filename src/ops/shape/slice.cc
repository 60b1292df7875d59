#include <algorithm>

#include "kiln/ops/shape.h"
#include "src/ops/op_util.h"

namespace kiln {
namespace {

// The gradient lands in the sliced positions of a zero tensor.
class SliceOp final : public autograd::Node {
 public:
  std::string_view name() const override { return "slice"; }
  TensorList backward(const Tensor& dy, const autograd::NeedsGrad&) override {
    Tensor dx = zeros(input_shape_, dy.dtype());
    copy_into(slice(dx, dim_, start_, end_, step_), dy);
    return {dx};
  }
  Shape input_shape_;
  int64_t dim_ = 0, start_ = 0, end_ = 0, step_ = 1;
};

}  // namespace

Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end, int64_t step) {
  ops_internal::check_defined("slice", x, "input");
  const int64_t d = wrap_dim(dim, x.dim(), "slice");
  const int64_t size = x.shape()[d];
  KILN_CHECK(step > 0, "slice: step must be positive, got ", step);
  if (start < 0) start += size;
  if (end < 0) end += size;
  start = std::clamp<int64_t>(start, 0, size);
  end = std::clamp<int64_t>(end, start, size);
  Shape shape = x.shape();
  Strides strides = x.strides();
  shape[d] = (end - start + step - 1) / step;
  strides[d] *= step;
  Tensor y = make_view(x, shape, strides, x.offset() + start * x.strides()[d]);
  ops_internal::record<SliceOp>(y, {x}, [&](SliceOp& node) {
    node.input_shape_ = x.shape();
    node.dim_ = d;
    node.start_ = start;
    node.end_ = end;
    node.step_ = step;
  });
  return y;
}

Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length) {
  ops_internal::check_defined("narrow", x, "input");
  const int64_t d = wrap_dim(dim, x.dim(), "narrow");
  KILN_CHECK(start >= 0 && length >= 0 && start + length <= x.shape()[d], "narrow: [", start, ", ",
             start + length, ") is out of range for dim ", dim, " of ", shape_str(x.shape()));
  return slice(x, d, start, start + length);
}

}  // namespace kiln
