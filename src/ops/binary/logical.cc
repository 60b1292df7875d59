#include "kiln/ops/binary.h"
#include "src/ops/broadcast.h"
#include "src/ops/op_util.h"

namespace kiln {

Tensor logical(const Tensor& a, const Tensor& b, LogicalOp op) {
  using namespace ops_internal;
  check_defined("logical", a, "first operand");
  KILN_CHECK(a.dtype() == DType::kBool, "logical: operands must be bool, got ",
             dtype_name(a.dtype()));
  if (op == LogicalOp::kNot) {
    Tensor ac = as_contiguous(a);
    Tensor y = Tensor::empty(a.shape(), DType::kBool);
    for (int64_t i = 0; i < y.numel(); ++i) y.data<bool>()[i] = !ac.data<bool>()[i];
    return y;
  }
  check_defined("logical", b, "second operand");
  KILN_CHECK(b.dtype() == DType::kBool, "logical: operands must be bool, got ",
             dtype_name(b.dtype()));
  const Shape shape = broadcast_shapes(a.shape(), b.shape(), "logical");
  Tensor ac = as_contiguous(broadcast_view(a, shape, "logical"));
  Tensor bc = as_contiguous(broadcast_view(b, shape, "logical"));
  Tensor y = Tensor::empty(shape, DType::kBool);
  const bool* pa = ac.data<bool>();
  const bool* pb = bc.data<bool>();
  bool* out = y.data<bool>();
  for (int64_t i = 0; i < y.numel(); ++i) {
    switch (op) {
      case LogicalOp::kAnd:
        out[i] = pa[i] && pb[i];
        break;
      case LogicalOp::kOr:
        out[i] = pa[i] || pb[i];
        break;
      case LogicalOp::kXor:
        out[i] = pa[i] != pb[i];
        break;
      case LogicalOp::kNot:
        break;
    }
  }
  return y;
}

}  // namespace kiln
