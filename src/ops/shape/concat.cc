#include "kiln/ops/shape.h"
#include "src/ops/op_util.h"

namespace kiln {
namespace {

// Each input's gradient is its slice of dy along the concatenated dim.
class ConcatOp final : public autograd::Node {
 public:
  std::string_view name() const override { return "concat"; }
  TensorList backward(const Tensor& dy, const autograd::NeedsGrad& needs) override {
    TensorList dxs(sizes_.size());
    int64_t start = 0;
    for (size_t i = 0; i < sizes_.size(); ++i) {
      if (needs[i]) dxs[i] = narrow(dy, dim_, start, sizes_[i]);
      start += sizes_[i];
    }
    return dxs;
  }
  int64_t dim_ = 0;
  std::vector<int64_t> sizes_;  // of each input along dim_
};

std::string shapes_str(const TensorList& xs) {
  std::string out;
  for (size_t i = 0; i < xs.size(); ++i) {
    if (i > 0) out += ", ";
    out += xs[i].defined() ? shape_str(xs[i].shape()) : "undefined";
  }
  return out;
}

}  // namespace

Tensor concat(const TensorList& xs, int64_t dim) {
  KILN_CHECK(!xs.empty(), "concat: no tensors given");
  for (const Tensor& x : xs) ops_internal::check_defined("concat", x, "input");
  const Tensor& first = xs.front();
  const int64_t rank = first.dim();
  KILN_CHECK(rank > 0, "concat: cannot concatenate 0-d tensors (use stack)");
  const int64_t d = wrap_dim(dim, rank, "concat");
  Shape shape = first.shape();
  shape[d] = 0;
  for (const Tensor& x : xs) {
    KILN_CHECK(x.dtype() == first.dtype(), "concat: dtypes differ: ", dtype_name(first.dtype()),
               " and ", dtype_name(x.dtype()), " (shapes ", shapes_str(xs), ")");
    bool fits = x.dim() == rank;
    for (int64_t i = 0; fits && i < rank; ++i) fits = i == d || x.shape()[i] == first.shape()[i];
    KILN_CHECK(fits, "concat: shapes ", shapes_str(xs), " differ outside dim ", dim);
    shape[d] += x.shape()[d];
  }
  Tensor y = Tensor::empty(shape, first.dtype());
  const Strides& strides = y.strides();
  int64_t start = 0;
  for (const Tensor& x : xs) {
    // The part of y this input fills: a view with y's strides.
    copy_into(make_view(y, x.shape(), strides, start * strides[d]), x);
    start += x.shape()[d];
  }
  ops_internal::record<ConcatOp>(y, xs, [&](ConcatOp& node) {
    node.dim_ = d;
    for (const Tensor& x : xs) node.sizes_.push_back(x.shape()[d]);
  });
  return y;
}

}  // namespace kiln
