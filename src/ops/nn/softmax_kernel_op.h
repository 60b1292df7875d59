// The shared forward/backward of softmax and log_softmax: the row kernels
// run over the last dim; any other dim is moved last first (a transposed
// copy) and the result moved back.
#pragma once

#include "kernels/softmax.h"
#include "kiln/tensor/tensor.h"

namespace kiln::ops_internal {

Tensor softmax_kernel_op(const char* name, kernels::SoftmaxKind kind, const Tensor& x, int64_t dim);

}  // namespace kiln::ops_internal
