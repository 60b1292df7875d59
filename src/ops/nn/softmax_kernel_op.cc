#include "src/ops/nn/softmax_kernel_op.h"

#include <algorithm>

#include "kiln/ops/shape.h"
#include "src/ops/op_util.h"

namespace kiln::ops_internal {
namespace {

// The permutation moving `dim` last (identity order for the others).
Shape dim_last_order(int64_t rank, int64_t dim) {
  Shape order;
  for (int64_t i = 0; i < rank; ++i) {
    if (i != dim) order.push_back(i);
  }
  order.push_back(dim);
  return order;
}

Shape inverse_order(const Shape& order) {
  Shape inverse(order.size());
  for (size_t i = 0; i < order.size(); ++i) inverse[order[i]] = static_cast<int64_t>(i);
  return inverse;
}

// x with `dim` moved last, as a contiguous (..., n) buffer.
Tensor to_rows(const Tensor& x, int64_t dim) {
  if (dim >= x.dim() - 1) return as_contiguous(x);  // already last (or a scalar)
  NoGradGuard no_grad;
  return as_contiguous(permute(x, dim_last_order(x.dim(), dim)));
}

// The inverse of to_rows: a contiguous tensor in x's original dim order.
Tensor from_rows(const Tensor& rows, int64_t dim) {
  if (dim >= rows.dim() - 1) return rows;
  NoGradGuard no_grad;
  return as_contiguous(permute(rows, inverse_order(dim_last_order(rows.dim(), dim))));
}

class SoftmaxKernelOp final : public Node {
 public:
  std::string_view name() const override { return name_; }
  TensorList backward(const Tensor& dy, const NeedsGrad&) override {
    const Tensor y = to_rows(saved(y_), dim_);
    const Tensor g = to_rows(dy, dim_);
    Tensor dx = Tensor::empty(y.shape(), y.dtype());
    const int64_t n = y.dim() > 0 ? y.size(-1) : 1;
    const int64_t rows = n > 0 ? y.numel() / n : 0;
    dispatch_f32_f64(name_, y.dtype(), [&](auto tag) {
      using T = decltype(tag);
      kernels::softmax_backward(kind_, y.data<T>(), g.data<T>(), dx.data<T>(), rows, n);
    });
    return {from_rows(dx, dim_)};
  }
  const char* name_ = "";
  kernels::SoftmaxKind kind_{};
  int64_t dim_ = 0;
  int y_ = -1;
};

}  // namespace

Tensor softmax_kernel_op(const char* name, kernels::SoftmaxKind kind, const Tensor& x,
                         int64_t dim) {
  check_f32_or_f64(name, x);
  const int64_t rank = x.dim();
  KILN_CHECK(dim >= -std::max<int64_t>(rank, 1) && dim < std::max<int64_t>(rank, 1), name, ": dim ",
             dim, " is out of range for x of shape ", shape_str(x.shape()));
  // A scalar is a single row of one element.
  const int64_t d = dim < 0 ? dim + std::max<int64_t>(rank, 1) : dim;
  const Tensor src = to_rows(x, d);
  Tensor y_rows = Tensor::empty(src.shape(), src.dtype());
  const int64_t n = x.dim() > 0 ? src.size(-1) : 1;
  const int64_t rows = n > 0 ? src.numel() / n : 0;
  dispatch_f32_f64(name, x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    kernels::softmax_forward(kind, src.data<T>(), y_rows.data<T>(), rows, n);
  });
  Tensor y = from_rows(y_rows, d);
  record<SoftmaxKernelOp>(y, {x}, [&](SoftmaxKernelOp& node) {
    node.name_ = name;
    node.kind_ = kind;
    node.dim_ = d;
    node.y_ = node.save(y);
  });
  return y;
}

}  // namespace kiln::ops_internal
