#include "src/ops/binary/binary_kernel.h"

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

}  // namespace kiln::ops_internal
