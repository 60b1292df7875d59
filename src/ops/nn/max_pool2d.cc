#include "kiln/ops/nn.h"
#include "src/ops/nn/pool_kernel_op.h"

namespace kiln {

// Padded positions never win; the gradient goes to the first maximum of each
// window (the forward records where it was).
Tensor max_pool2d(const Tensor& x, const Pool2dOptions& options) {
  return ops_internal::pool_kernel_op("max_pool2d", x, options, kernels::PoolAlg::kMax);
}

}  // namespace kiln
