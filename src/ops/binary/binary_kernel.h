// Forward of the broadcasting arithmetic ops (no autograd: each op file
// records its own node).
#pragma once

#include "kernels/elementwise.h"
#include "kiln/tensor/tensor.h"

namespace kiln::ops_internal {

Tensor binary_forward(const char* name, kernels::BinaryOp op, const Tensor& a, const Tensor& b);

}  // namespace kiln::ops_internal
