#include "kiln/ops/nn.h"
#include "src/ops/nn/pool_kernel_op.h"

namespace kiln {

// Each window averages its real (unpadded) elements only, as TensorFlow's
// SAME pooling; its gradient is spread evenly over them.
Tensor avg_pool2d(const Tensor& x, const Pool2dOptions& options) {
  return ops_internal::pool_kernel_op("avg_pool2d", x, options, kernels::PoolAlg::kAvg);
}

}  // namespace kiln
