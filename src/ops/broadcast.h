// Builds the kernels' BroadcastDesc for two operands of any strides.
#pragma once

#include "kernels/elementwise.h"
#include "kiln/tensor/tensor.h"

namespace kiln::ops_internal {

// Describes out[i] = f(a[i'], b[i'']) over `out_shape` (the broadcast shape
// of a and b), with dims merged where both operands allow.
kernels::BroadcastDesc make_broadcast_desc(const Tensor& a, const Tensor& b, IntList out_shape,
                                           const char* op);

// A view of `t` broadcast to `shape` (zero strides where broadcast; no
// autograd, no copy).
Tensor broadcast_view(const Tensor& t, IntList shape, const char* op);

}  // namespace kiln::ops_internal
