// The shared forward/backward of the elementwise unary ops: each op file
// names its kernel; the node saves only the input or only the output,
// whichever the derivative needs.
#pragma once

#include "kernels/elementwise.h"
#include "kiln/tensor/tensor.h"

namespace kiln::ops_internal {

Tensor unary_kernel_op(const char* name, const Tensor& x, kernels::UnaryOp op,
                       kernels::UnaryParams params = {});

}  // namespace kiln::ops_internal
