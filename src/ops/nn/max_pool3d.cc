#include "kiln/ops/nn.h"
#include "src/ops/nn/pool_kernel_op.h"

namespace kiln {

// As max_pool2d with a depth dim: padded positions never win; the gradient
// goes to the first maximum of each window (the forward records where it was).
Tensor max_pool3d(const Tensor& x, const Pool3dOptions& options) {
  return ops_internal::pool3d_kernel_op("max_pool3d", x, options, kernels::PoolAlg::kMax);
}

}  // namespace kiln
