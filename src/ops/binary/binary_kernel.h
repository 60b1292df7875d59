// Forward of the broadcasting arithmetic ops (no autograd: each op file
// records its own node), and the backward maximum and minimum share.
#pragma once

#include "kernels/elementwise.h"
#include "kiln/autograd/node.h"
#include "kiln/ops/binary.h"
#include "kiln/tensor/tensor.h"

namespace kiln::ops_internal {

Tensor binary_forward(const char* name, kernels::BinaryOp op, const Tensor& a, const Tensor& b);

// Gradients of maximum (wins = kGt) or minimum (wins = kLt) of a and b: dy
// goes to the winning operand, ties split it equally. Unbroadcast by the
// engine.
TensorList extremum_backward(const Tensor& dy, const Tensor& a, const Tensor& b, CompareOp wins,
                             const autograd::NeedsGrad& needs);

}  // namespace kiln::ops_internal
