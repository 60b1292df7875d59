#include "kiln/ops/shape.h"
#include "src/ops/op_util.h"

namespace kiln {
namespace {

class ReshapeOp final : public autograd::Node {
 public:
  std::string_view name() const override { return "reshape"; }
  TensorList backward(const Tensor& dy, const autograd::NeedsGrad&) override {
    return {reshape(dy, input_shape_)};
  }
  Shape input_shape_;
};

Shape infer_shape(IntList shape, int64_t numel, IntList from) {
  Shape out(shape.begin(), shape.end());
  int64_t known = 1;
  int infer = -1;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == -1) {
      KILN_CHECK(infer < 0, "reshape: more than one -1 in ", shape_str(shape));
      infer = static_cast<int>(i);
    } else {
      KILN_CHECK(out[i] >= 0, "reshape: negative size in ", shape_str(shape));
      known *= out[i];
    }
  }
  if (infer >= 0) {
    KILN_CHECK(known != 0 && numel % known == 0, "reshape: cannot reshape ", shape_str(from),
               " to ", shape_str(shape));
    out[infer] = numel / known;
  }
  KILN_CHECK(shape_numel(out) == numel, "reshape: cannot reshape ", shape_str(from), " (", numel,
             " elements) to ", shape_str(shape));
  return out;
}

// Strides that view x's data with `shape`, if x's strides allow it without a
// copy (as torch's computeStride).
bool view_strides(const Tensor& x, IntList shape, Strides* out) {
  const Shape& old_shape = x.shape();
  const Strides& old_strides = x.strides();
  out->assign(shape.size(), 0);
  if (x.numel() == 0 || old_shape.empty()) {
    *out = contiguous_strides(shape);
    return true;
  }
  int64_t view_d = static_cast<int64_t>(shape.size()) - 1;
  int64_t chunk_base_stride = old_strides.back();
  int64_t tensor_numel = 1;
  int64_t view_numel = 1;
  for (int64_t d = static_cast<int64_t>(old_shape.size()) - 1; d >= 0; --d) {
    tensor_numel *= old_shape[d];
    if (d == 0 ||
        (old_shape[d - 1] != 1 && old_strides[d - 1] != tensor_numel * chunk_base_stride)) {
      while (view_d >= 0 && (view_numel < tensor_numel || shape[view_d] == 1)) {
        (*out)[view_d] = view_numel * chunk_base_stride;
        view_numel *= shape[view_d];
        --view_d;
      }
      if (view_numel != tensor_numel) return false;
      if (d > 0) {
        chunk_base_stride = old_strides[d - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  return view_d == -1;
}

}  // namespace

Tensor reshape(const Tensor& x, IntList shape) {
  ops_internal::check_defined("reshape", x, "input");
  const Shape new_shape = infer_shape(shape, x.numel(), x.shape());
  Strides strides;
  Tensor y;
  if (view_strides(x, new_shape, &strides)) {
    y = make_view(x, new_shape, strides, x.offset());
  } else {
    Tensor c = as_contiguous(x);
    y = make_view(c, new_shape, contiguous_strides(new_shape), c.offset());
  }
  ops_internal::record<ReshapeOp>(y, {x}, [&](ReshapeOp& node) { node.input_shape_ = x.shape(); });
  return y;
}

}  // namespace kiln
