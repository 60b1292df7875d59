// In-place updates for optimizers, gradient accumulation and initialisers.
// They record no history and refuse tensors that require grad while grad
// mode is on (wrap the update in a NoGradGuard).
#pragma once

#include "kiln/tensor/tensor.h"

namespace kiln {

// dst += alpha * src (src broadcast to dst's shape).
void add_(const Tensor& dst, const Tensor& src, double alpha = 1.0);
// dst *= value.
void mul_(const Tensor& dst, double value);
// dst = src (src broadcast to dst's shape, converted to dst's dtype).
void copy_(const Tensor& dst, const Tensor& src);
void fill_(const Tensor& dst, double value);

}  // namespace kiln
