#include <algorithm>
#include <utility>

#include "kiln/ops/autocast.h"
#include "kiln/ops/cast.h"
#include "kiln/ops/linalg.h"
#include "kiln/ops/shape.h"
#include "src/ops/linalg/matmul_plan.h"
#include "src/ops/op_util.h"

namespace kiln {
namespace {

using ops_internal::matmul_values;

// (..., R, C) -> (..., C, R), a view without autograd history.
Tensor transpose_view(const Tensor& t) {
  Shape shape = t.shape();
  Strides strides = t.strides();
  const size_t r = shape.size();
  std::swap(shape[r - 2], shape[r - 1]);
  std::swap(strides[r - 2], strides[r - 1]);
  return make_view(t, shape, strides, t.offset());
}

// t (batch..., R, C) viewed as (batch * R, C), if its strides allow.
bool fold_rows(const Tensor& t, Tensor* out) {
  const int64_t r = t.dim();
  int64_t rows = 0, stride = 0;
  const IntList sizes(t.shape().data(), r - 1), strides(t.strides().data(), r - 1);
  if (!ops_internal::merge_dims(sizes, strides, t.size(-1), &rows, &stride)) return false;
  *out = make_view(t, {rows, t.size(-1)}, {stride, t.strides()[r - 1]}, t.offset());
  return true;
}

// db = sum over the batch of a_i^T g_i. When b is shared by the whole batch
// this is one (K, B * M) @ (B * M, N) product of views of a and g, instead
// of a batch of products the engine would then sum.
Tensor weight_grad(const Tensor& a, const Tensor& g, const Shape& b_shape) {
  const bool b_shared = shape_numel(b_shape) == b_shape[b_shape.size() - 2] * b_shape.back();
  Tensor a_flat, g_flat;
  if (b_shared && a.dim() > 2 && fold_rows(a, &a_flat)) {
    if (!fold_rows(g, &g_flat)) fold_rows(as_contiguous(g), &g_flat);
    return reshape(matmul_values(transpose_view(a_flat), g_flat), b_shape);
  }
  return matmul_values(transpose_view(a), g);
}

// c = a @ b: dc/da = g @ b^T, dc/db = a^T @ g, both through the same kernel
// with transposed views; the engine sums gradients over broadcast batch dims.
class MatmulOp final : public autograd::Node {
 public:
  std::string_view name() const override { return "matmul"; }
  TensorList backward(const Tensor& dy, const autograd::NeedsGrad& needs) override {
    const Tensor g = dy.dtype() == dtype_ ? dy : to_dtype(dy, dtype_);
    Tensor da, db;
    if (needs[0]) da = matmul_values(g, transpose_view(saved(b_)));
    if (needs[1]) db = weight_grad(saved(a_), g, b_shape_);
    return {da, db};
  }
  int a_ = -1;
  int b_ = -1;
  Shape b_shape_;
  DType dtype_ = DType::kF32;
};

// Both operands of rank >= 2.
Tensor matmul_nd(const Tensor& a, const Tensor& b) {
  Tensor c = matmul_values(a, b);
  ops_internal::record<MatmulOp>(c, {a, b}, [&](MatmulOp& node) {
    node.dtype_ = a.dtype();
    node.b_shape_ = b.shape();
    if (b.requires_grad()) node.a_ = node.save(a);
    if (a.requires_grad()) node.b_ = node.save(b);
  });
  return c;
}

void check_matmul_args(const Tensor& a, const Tensor& b) {
  ops_internal::check_defined("matmul", a, "a");
  ops_internal::check_defined("matmul", b, "b");
  KILN_CHECK(a.dim() >= 1 && b.dim() >= 1, "matmul: needs tensors of rank >= 1, got ",
             shape_str(a.shape()), " and ", shape_str(b.shape()));
  const DType t = a.dtype();
  KILN_CHECK(t == DType::kF32 || t == DType::kBF16 || t == DType::kF64,
             "matmul: needs f32, bf16 or f64 tensors, got ", dtype_name(t), " ",
             shape_str(a.shape()), " and ", dtype_name(b.dtype()), " ", shape_str(b.shape()));
  ops_internal::check_same_dtype("matmul", a, b);
  const int64_t ka = a.size(-1), kb = b.dim() == 1 ? b.size(0) : b.size(-2);
  KILN_CHECK(ka == kb, "matmul: shapes ", shape_str(a.shape()), " and ", shape_str(b.shape()),
             " do not match (", ka, " != ", kb, ")");
  // Batch dims broadcast from the right.
  const int64_t ra = std::max<int64_t>(a.dim() - 2, 0), rb = std::max<int64_t>(b.dim() - 2, 0);
  for (int64_t i = 1; i <= std::min(ra, rb); ++i) {
    const int64_t sa = a.shape()[ra - i], sb = b.shape()[rb - i];
    KILN_CHECK(sa == sb || sa == 1 || sb == 1, "matmul: batch dims of ", shape_str(a.shape()),
               " and ", shape_str(b.shape()), " do not broadcast");
  }
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  check_matmul_args(a, b);
  if (const std::optional<DType> low = autocast_dtype(); low && a.dtype() == DType::kF32) {
    // The casts are ops, so the gradients reach a and b in f32.
    const AutocastScope off(std::nullopt);
    return to_dtype(matmul(to_dtype(a, *low), to_dtype(b, *low)), DType::kF32);
  }
  // NumPy promotion: a (K) is (1, K), b (K) is (K, 1); the added dims go.
  const bool a_vec = a.dim() == 1, b_vec = b.dim() == 1;
  const Tensor a2 = a_vec ? reshape(a, {1, a.size(0)}) : a;
  const Tensor b2 = b_vec ? reshape(b, {b.size(0), 1}) : b;
  Tensor c = matmul_nd(a2, b2);
  if (!a_vec && !b_vec) return c;
  Shape shape = c.shape();
  if (b_vec) shape.pop_back();
  if (a_vec) shape.erase(shape.end() - (b_vec ? 1 : 2));
  return reshape(c, shape);
}

}  // namespace kiln
