#include "src/ops/binary/binary_kernel.h"

#include "kiln/ops/shape.h"
#include "src/ops/broadcast.h"
#include "src/ops/op_util.h"

namespace kiln::ops_internal {

Tensor binary_forward(const char* name, kernels::BinaryOp op, const Tensor& a, const Tensor& b) {
  check_defined(name, a, "first operand");
  check_defined(name, b, "second operand");
  check_same_dtype(name, a, b);
  check_f32_or_f64(name, a);
  const Shape out_shape = broadcast_shapes(a.shape(), b.shape(), name);
  Tensor out = Tensor::empty(out_shape, a.dtype());
  const kernels::BroadcastDesc desc = make_broadcast_desc(a, b, out_shape, name);
  dispatch_f32_f64(name, a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    kernels::binary_forward(op, desc, a.data<T>(), b.data<T>(), out.data<T>());
  });
  return out;
}

TensorList extremum_backward(const Tensor& dy, const Tensor& a, const Tensor& b, CompareOp wins,
                             const autograd::NeedsGrad& needs) {
  Tensor zero = zeros({}, dy.dtype());
  Tensor half = mul_scalar(dy, 0.5);
  Tensor tie = eq(a, b);
  Tensor a_wins = compare(a, b, wins);
  Tensor da = needs[0] ? where(a_wins, dy, where(tie, half, zero)) : Tensor();
  Tensor db = needs[1] ? where(a_wins, zero, where(tie, half, dy)) : Tensor();
  return {da, db};
}

}  // namespace kiln::ops_internal
