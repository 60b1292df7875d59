#include "absl/strings/str_cat.h"
#include "kiln/ops/shape.h"
#include "src/ops/op_util.h"

namespace kiln {
namespace {

// The gradient is dy without the padding: a view of its interior.
class PadOp final : public autograd::Node {
 public:
  std::string_view name() const override { return "pad"; }
  TensorList backward(const Tensor& dy, const autograd::NeedsGrad&) override {
    int64_t offset = dy.offset();
    for (size_t i = 0; i < before_.size(); ++i) offset += before_[i] * dy.strides()[i];
    return {make_view(dy, input_shape_, dy.strides(), offset)};
  }
  Shape input_shape_;
  Shape before_;  // padding before each dim (0 for unpadded leading dims)
};

std::string pads_str(const std::vector<std::pair<int64_t, int64_t>>& pads) {
  std::string out = "[";
  for (size_t i = 0; i < pads.size(); ++i) {
    absl::StrAppend(&out, i > 0 ? ", " : "", "(", pads[i].first, ", ", pads[i].second, ")");
  }
  return out + "]";
}

}  // namespace

Tensor pad(const Tensor& x, const std::vector<std::pair<int64_t, int64_t>>& pads, double value) {
  ops_internal::check_defined("pad", x, "input");
  const int64_t rank = x.dim();
  const int64_t lead = rank - static_cast<int64_t>(pads.size());
  KILN_CHECK(lead >= 0, "pad: ", pads.size(), " pads ", pads_str(pads), " for a tensor of shape ",
             shape_str(x.shape()));
  Shape shape = x.shape();
  Shape before(rank, 0);
  for (size_t i = 0; i < pads.size(); ++i) {
    KILN_CHECK(pads[i].first >= 0 && pads[i].second >= 0, "pad: negative padding in ",
               pads_str(pads), " for ", shape_str(x.shape()));
    before[lead + i] = pads[i].first;
    shape[lead + i] += pads[i].first + pads[i].second;
  }
  Tensor y = full(shape, value, x.dtype());
  int64_t offset = 0;
  for (int64_t i = 0; i < rank; ++i) offset += before[i] * y.strides()[i];
  copy_into(make_view(y, x.shape(), y.strides(), offset), x);
  ops_internal::record<PadOp>(y, {x}, [&](PadOp& node) {
    node.input_shape_ = x.shape();
    node.before_ = before;
  });
  return y;
}

}  // namespace kiln
