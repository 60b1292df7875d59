// The shared forward/backward of conv2d and conv3d: each op file checks its
// arguments and describes the convolution (a 2-D one is the 3-D one with
// depth 1); the node carries the descriptor and the oneDNN plan from forward
// to backward.
#pragma once

#include "kernels/conv.h"
#include "kiln/tensor/tensor.h"

namespace kiln::ops_internal {

// x and weight as described by `d` (bias undefined unless d.has_bias), any
// strides; f32/bf16 run on oneDNN, f64 on the reference kernel.
Tensor conv_kernel_op(const Tensor& x, const Tensor& weight, const Tensor& bias,
                      const kernels::ConvDesc& d);

}  // namespace kiln::ops_internal
