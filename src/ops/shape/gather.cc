#include "kiln/ops/shape.h"
#include "src/ops/op_util.h"
#include "src/ops/shape/index_util.h"

namespace kiln {
namespace {

// Calls f(j, x_offset) for every element j (row-major) of an index of
// `shape`, with x_offset the element offset in x (strides `x_strides`) of
// x[..., ids[j], ...] along `dim`.
template <class F>
void for_each_gathered(IntList shape, IntList x_strides, int64_t dim,
                       const std::vector<int64_t>& ids, F&& f) {
  const int64_t rank = static_cast<int64_t>(shape.size());
  const int64_t n = shape_numel(shape);
  Shape pos(rank, 0);
  int64_t base = 0;  // offset in x of pos with pos[dim] treated as 0
  for (int64_t j = 0; j < n; ++j) {
    f(j, base + ids[j] * x_strides[dim]);
    for (int64_t i = rank - 1; i >= 0; --i) {
      if (i != dim) base += x_strides[i];
      if (++pos[i] < shape[i]) break;
      if (i != dim) base -= shape[i] * x_strides[i];
      pos[i] = 0;
    }
  }
}

// dx[..., ids[j], ...] += dy[j] into zeros, in row-major order of j.
class GatherOp final : public autograd::Node {
 public:
  std::string_view name() const override { return "gather"; }
  TensorList backward(const Tensor& dy, const autograd::NeedsGrad&) override {
    Tensor g = as_contiguous(dy);
    Tensor dx = zeros(input_shape_, g.dtype());
    ops_internal::dispatch_f32_f64("gather", g.dtype(), [&](auto tag) {
      using T = decltype(tag);
      const T* src = g.data<T>();
      T* dst = dx.data<T>();
      for_each_gathered(g.shape(), dx.strides(), dim_, ids_,
                        [&](int64_t j, int64_t at) { dst[at] += src[j]; });
    });
    return {dx};
  }
  Shape input_shape_;
  int64_t dim_ = 0;
  std::vector<int64_t> ids_;
};

}  // namespace

Tensor gather(const Tensor& x, int64_t dim, const Tensor& index) {
  ops_internal::check_defined("gather", x, "input");
  ops_internal::check_defined("gather", index, "index");
  KILN_CHECK(index.dim() == x.dim(), "gather: index of shape ", shape_str(index.shape()),
             " must have the rank of the input ", shape_str(x.shape()));
  const int64_t d = wrap_dim(dim, x.dim(), "gather");
  for (int64_t i = 0; i < x.dim(); ++i) {
    KILN_CHECK(i == d || index.shape()[i] <= x.shape()[i], "gather: index of shape ",
               shape_str(index.shape()), " is larger than the input ", shape_str(x.shape()),
               " in dim ", i);
  }
  std::vector<int64_t> ids = ops_internal::index_values("gather", index);
  const int64_t size = x.shape()[d];
  for (int64_t id : ids) {
    KILN_CHECK(id >= 0 && id < size, "gather: index ", id, " is out of range for dim ", dim,
               " of size ", size, " (input shape ", shape_str(x.shape()), ")");
  }
  Tensor y = Tensor::empty(index.shape(), x.dtype());
  // Reads x through its strides: no contiguous copy needed.
  ops_internal::dispatch_by_width(x.dtype(), [&](auto tag) {
    using U = decltype(tag);
    const U* src = static_cast<const U*>(x.raw_data());
    U* dst = static_cast<U*>(y.raw_data());
    for_each_gathered(index.shape(), x.strides(), d, ids,
                      [&](int64_t j, int64_t at) { dst[j] = src[at]; });
  });
  ops_internal::record<GatherOp>(y, {x}, [&](GatherOp& node) {
    node.input_shape_ = x.shape();
    node.dim_ = d;
    node.ids_ = std::move(ids);
  });
  return y;
}

}  // namespace kiln
