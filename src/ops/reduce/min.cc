#include "kiln/ops/reduce.h"
#include "src/ops/reduce/reduce_kernel.h"

namespace kiln {

Tensor min(const Tensor& x, IntList dims, bool keepdim) {
  return ops_internal::extremum("min", kernels::ReduceOp::kMin, x, dims, keepdim);
}

}  // namespace kiln
