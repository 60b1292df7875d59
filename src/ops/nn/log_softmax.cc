#include "kiln/ops/nn.h"
#include "src/ops/nn/softmax_kernel_op.h"

namespace kiln {

Tensor log_softmax(const Tensor& x, int64_t dim) {
  return ops_internal::softmax_kernel_op("log_softmax", kernels::SoftmaxKind::kLogSoftmax, x, dim);
}

}  // namespace kiln
