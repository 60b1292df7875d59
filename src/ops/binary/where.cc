#include "kiln/ops/binary.h"
#include "src/ops/broadcast.h"
#include "src/ops/op_util.h"

namespace kiln {
namespace {

class WhereOp final : public autograd::Node {
 public:
  std::string_view name() const override { return "where"; }
  TensorList backward(const Tensor& dy, const autograd::NeedsGrad& needs) override {
    const Tensor& cond = saved(cond_);
    Tensor zero = zeros({}, dy.dtype());
    return {Tensor(), needs[1] ? where(cond, dy, zero) : Tensor(),
            needs[2] ? where(cond, zero, dy) : Tensor()};
  }
  int cond_ = -1;
};

template <class T>
void select(const bool* c, const T* a, const T* b, T* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = c[i] ? a[i] : b[i];
}

}  // namespace

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  using namespace ops_internal;
  check_defined("where", cond, "condition");
  KILN_CHECK(cond.dtype() == DType::kBool, "where: condition must be bool, got ",
             dtype_name(cond.dtype()), " ", shape_str(cond.shape()));
  check_defined("where", a, "first operand");
  check_defined("where", b, "second operand");
  check_same_dtype("where", a, b);
  const Shape shape =
      broadcast_shapes(broadcast_shapes(cond.shape(), a.shape(), "where"), b.shape(), "where");
  Tensor c = as_contiguous(broadcast_view(cond, shape, "where"));
  Tensor ac = as_contiguous(broadcast_view(a, shape, "where"));
  Tensor bc = as_contiguous(broadcast_view(b, shape, "where"));
  Tensor y = Tensor::empty(shape, a.dtype());
  switch (a.dtype()) {
    case DType::kF32:
      select(c.data<bool>(), ac.data<float>(), bc.data<float>(), y.data<float>(), y.numel());
      break;
    case DType::kF64:
      select(c.data<bool>(), ac.data<double>(), bc.data<double>(), y.data<double>(), y.numel());
      break;
    case DType::kI64:
      select(c.data<bool>(), ac.data<int64_t>(), bc.data<int64_t>(), y.data<int64_t>(), y.numel());
      break;
    case DType::kI32:
      select(c.data<bool>(), ac.data<int32_t>(), bc.data<int32_t>(), y.data<int32_t>(), y.numel());
      break;
    default:
      KILN_FAIL("where: unsupported dtype ", dtype_name(a.dtype()));
  }
  record<WhereOp>(y, {cond, a, b}, [&](WhereOp& node) { node.cond_ = node.save(cond); });
  return y;
}

}  // namespace kiln
