#include <algorithm>

#include "kiln/ops/shape.h"
#include "src/ops/op_util.h"

namespace kiln {
namespace {

class PermuteOp final : public autograd::Node {
 public:
  std::string_view name() const override { return "permute"; }
  TensorList backward(const Tensor& dy, const autograd::NeedsGrad&) override {
    Shape inverse(dims_.size());
    for (size_t i = 0; i < dims_.size(); ++i) inverse[dims_[i]] = static_cast<int64_t>(i);
    return {permute(dy, inverse)};
  }
  Shape dims_;
};

}  // namespace

Tensor permute(const Tensor& x, IntList dims) {
  ops_internal::check_defined("permute", x, "input");
  const int64_t rank = x.dim();
  KILN_CHECK(static_cast<int64_t>(dims.size()) == rank, "permute: ", dims.size(),
             " dims given for a tensor of shape ", shape_str(x.shape()));
  Shape wrapped(dims.size());
  std::vector<bool> seen(dims.size(), false);
  Shape shape(dims.size());
  Strides strides(dims.size());
  for (size_t i = 0; i < dims.size(); ++i) {
    const int64_t d = wrap_dim(dims[i], rank, "permute");
    KILN_CHECK(!seen[d], "permute: dim ", d, " repeated in ", shape_str(dims));
    seen[d] = true;
    wrapped[i] = d;
    shape[i] = x.shape()[d];
    strides[i] = x.strides()[d];
  }
  Tensor y = make_view(x, shape, strides, x.offset());
  ops_internal::record<PermuteOp>(y, {x}, [&](PermuteOp& node) { node.dims_ = wrapped; });
  return y;
}

Tensor transpose(const Tensor& x, int64_t dim0, int64_t dim1) {
  ops_internal::check_defined("transpose", x, "input");
  Shape dims(x.dim());
  for (int64_t i = 0; i < x.dim(); ++i) dims[i] = i;
  std::swap(dims[wrap_dim(dim0, x.dim(), "transpose")], dims[wrap_dim(dim1, x.dim(), "transpose")]);
  return permute(x, dims);
}

}  // namespace kiln
