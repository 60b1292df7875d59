#include "kiln/ops/nn.h"
#include "src/ops/nn/pool_kernel_op.h"

namespace kiln {

// As avg_pool2d with a depth dim: each window averages its real (unpadded)
// elements only; its gradient is spread evenly over them.
Tensor avg_pool3d(const Tensor& x, const Pool3dOptions& options) {
  return ops_internal::pool3d_kernel_op("avg_pool3d", x, options, kernels::PoolAlg::kAvg);
}

}  // namespace kiln
