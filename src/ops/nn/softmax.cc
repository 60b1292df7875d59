#include "kiln/ops/nn.h"
#include "src/ops/nn/softmax_kernel_op.h"

namespace kiln {

Tensor softmax(const Tensor& x, int64_t dim) {
  return ops_internal::softmax_kernel_op("softmax", kernels::SoftmaxKind::kSoftmax, x, dim);
}

}  // namespace kiln
