#include <cstring>

#include "kiln/ops/shape.h"
#include "src/ops/op_util.h"
#include "src/ops/shape/index_util.h"

namespace kiln {
namespace {

// x viewed as (outer, size, inner) around `dim`.
struct Split {
  int64_t outer = 1, size = 1, inner = 1;
};

Split split_at(IntList shape, int64_t dim) {
  Split s;
  for (int64_t i = 0; i < dim; ++i) s.outer *= shape[i];
  s.size = shape[dim];
  for (int64_t i = dim + 1; i < static_cast<int64_t>(shape.size()); ++i) s.inner *= shape[i];
  return s;
}

// dx[o, ids[k], i] += dy[o, k, i] into zeros; k runs in order, so repeated
// ids sum in a fixed order.
template <class T>
void scatter_add_rows(const T* dy, T* dx, const std::vector<int64_t>& ids, const Split& s) {
  const int64_t n = static_cast<int64_t>(ids.size());
  for (int64_t o = 0; o < s.outer; ++o) {
    for (int64_t k = 0; k < n; ++k) {
      const T* src = dy + (o * n + k) * s.inner;
      T* dst = dx + (o * s.size + ids[k]) * s.inner;
      for (int64_t i = 0; i < s.inner; ++i) dst[i] += src[i];
    }
  }
}

class IndexSelectOp final : public autograd::Node {
 public:
  std::string_view name() const override { return "index_select"; }
  TensorList backward(const Tensor& dy, const autograd::NeedsGrad&) override {
    Tensor g = as_contiguous(dy);
    Tensor dx = zeros(input_shape_, g.dtype());
    const Split s = split_at(input_shape_, dim_);
    ops_internal::dispatch_f32_f64("index_select", g.dtype(), [&](auto tag) {
      using T = decltype(tag);
      scatter_add_rows(g.data<T>(), dx.data<T>(), ids_, s);
    });
    return {dx};
  }
  Shape input_shape_;
  int64_t dim_ = 0;
  std::vector<int64_t> ids_;
};

}  // namespace

Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index) {
  ops_internal::check_defined("index_select", x, "input");
  KILN_CHECK(index.defined() && index.dim() == 1, "index_select: index must be 1-D, got shape ",
             index.defined() ? shape_str(index.shape()) : "undefined");
  const int64_t d = wrap_dim(dim, x.dim(), "index_select");
  std::vector<int64_t> ids = ops_internal::index_values("index_select", index);
  const Split s = split_at(x.shape(), d);
  for (int64_t id : ids) {
    KILN_CHECK(id >= 0 && id < s.size, "index_select: index ", id, " is out of range for dim ", dim,
               " of size ", s.size, " (input shape ", shape_str(x.shape()), ")");
  }
  Shape shape = x.shape();
  shape[d] = static_cast<int64_t>(ids.size());
  Tensor y = Tensor::empty(shape, x.dtype());
  if (y.numel() > 0) {
    Tensor src = as_contiguous(x);
    const int64_t row_bytes = s.inner * dtype_size(x.dtype());
    const char* from = static_cast<const char*>(src.raw_data());
    char* to = static_cast<char*>(y.raw_data());
    const int64_t n = static_cast<int64_t>(ids.size());
    for (int64_t o = 0; o < s.outer; ++o) {
      for (int64_t k = 0; k < n; ++k) {
        std::memcpy(to + (o * n + k) * row_bytes, from + (o * s.size + ids[k]) * row_bytes,
                    static_cast<size_t>(row_bytes));
      }
    }
  }
  ops_internal::record<IndexSelectOp>(y, {x}, [&](IndexSelectOp& node) {
    node.input_shape_ = x.shape();
    node.dim_ = d;
    node.ids_ = std::move(ids);
  });
  return y;
}

}  // namespace kiln
