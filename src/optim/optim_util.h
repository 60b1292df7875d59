// Helpers shared by the optimizers, transforms and EMA (internal).
#pragma once

#include <cstdint>
#include <string_view>

#include "kiln/optim/param_groups.h"
#include "kiln/optim/transforms.h"
#include "kiln/tensor/tensor.h"

namespace kiln::optim::internal {

// Hyperparameter checks: throw kiln::Error "<who>: <what> is <value>; it
// must be ...".
void check_nonnegative(std::string_view who, const char* what, double value);    // finite, >= 0
void check_unit_interval(std::string_view who, const char* what, double value);  // [0, 1)
void check_closed_unit_interval(std::string_view who, const char* what, double value);  // [0, 1]

// grad_stats with errors naming `who`.
GradStats grad_stats(std::string_view who, const ParamGroups& groups);

// Throws unless `t` (called `name`) is an f32 or f64 contiguous tensor, the
// form the fused kernels take.
void check_kernel_tensor(std::string_view who, const std::string& name, const Tensor& t);

// The gradient of `p` ready for a kernel: undefined when there is none; a
// non-contiguous gradient is replaced by a contiguous copy (same values).
// Throws if the parameter or the gradient cannot go to a kernel.
Tensor kernel_grad(std::string_view who, const ParamRef& p);

// A tensor as AGC's (rows, cols) with one unit per column; see transforms.h.
struct UnitLayout {
  int64_t rows = 0;
  int64_t cols = 1;
  Shape norm_shape;  // the official code's keepdims shape of the norms
};
UnitLayout unit_layout(const Shape& shape);

}  // namespace kiln::optim::internal
