// The shared forward/backward of the max and average pools, 2-D and 3-D: each op file
// names its algorithm; the node carries the kernel plan and, for max
// pooling, the workspace (oneDNN's, or the reference kernel's argmax) from
// forward to backward.
#pragma once

#include "kernels/pool.h"
#include "kiln/ops/nn.h"

namespace kiln::ops_internal {

Tensor pool_kernel_op(const char* name, const Tensor& x, const Pool2dOptions& options,
                      kernels::PoolAlg alg);
Tensor pool3d_kernel_op(const char* name, const Tensor& x, const Pool3dOptions& options,
                        kernels::PoolAlg alg);

}  // namespace kiln::ops_internal
