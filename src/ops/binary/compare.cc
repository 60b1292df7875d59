#include "kiln/ops/binary.h"
#include "src/ops/broadcast.h"
#include "src/ops/op_util.h"

namespace kiln {
namespace {

template <class T>
bool compare_one(T a, T b, CompareOp op) {
  switch (op) {
    case CompareOp::kEq:
      return a == b;
    case CompareOp::kNe:
      return a != b;
    case CompareOp::kLt:
      return a < b;
    case CompareOp::kLe:
      return a <= b;
    case CompareOp::kGt:
      return a > b;
    case CompareOp::kGe:
      return a >= b;
  }
  return false;
}

template <class T>
void compare_all(const T* a, const T* b, bool* out, int64_t n, CompareOp op) {
  for (int64_t i = 0; i < n; ++i) out[i] = compare_one(a[i], b[i], op);
}

}  // namespace

Tensor compare(const Tensor& a, const Tensor& b, CompareOp op) {
  using namespace ops_internal;
  check_defined("compare", a, "first operand");
  check_defined("compare", b, "second operand");
  check_same_dtype("compare", a, b);
  const Shape shape = broadcast_shapes(a.shape(), b.shape(), "compare");
  Tensor ac = as_contiguous(broadcast_view(a, shape, "compare"));
  Tensor bc = as_contiguous(broadcast_view(b, shape, "compare"));
  Tensor y = Tensor::empty(shape, DType::kBool);
  bool* out = y.data<bool>();
  const int64_t n = y.numel();
  switch (a.dtype()) {
    case DType::kF32:
      compare_all(ac.data<float>(), bc.data<float>(), out, n, op);
      break;
    case DType::kF64:
      compare_all(ac.data<double>(), bc.data<double>(), out, n, op);
      break;
    case DType::kI32:
      compare_all(ac.data<int32_t>(), bc.data<int32_t>(), out, n, op);
      break;
    case DType::kI64:
      compare_all(ac.data<int64_t>(), bc.data<int64_t>(), out, n, op);
      break;
    case DType::kBool:
      compare_all(ac.data<bool>(), bc.data<bool>(), out, n, op);
      break;
    default:
      KILN_FAIL("compare: unsupported dtype ", dtype_name(a.dtype()));
  }
  return y;
}

Tensor compare(const Tensor& a, double b, CompareOp op) {
  ops_internal::check_defined("compare", a, "first operand");
  return compare(a, scalar_tensor(b, a.dtype()), op);
}

}  // namespace kiln
