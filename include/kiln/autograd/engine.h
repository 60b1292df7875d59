// The backward engine: iterative, deterministic, dependency-counting.
#pragma once

#include "kiln/tensor/tensor.h"

namespace kiln::autograd {

// Runs backward from `root` with `grad_root` (ones for one-element roots if
// undefined). Gradients reaching leaves are accumulated into their grad().
void run_backward(const Tensor& root, const Tensor& grad_root, bool retain_graph);

// Gradients of `outputs` (seeded with `grad_outputs`) with respect to
// `inputs`, returned instead of accumulated. Undefined where unreachable.
TensorList grad(const TensorList& outputs, const TensorList& grad_outputs, const TensorList& inputs,
                bool retain_graph = false);

}  // namespace kiln::autograd
