#include "kernels/reduce.h"

namespace kiln::kernels {

void reduce_isa(Isa isa, ReduceOp op, const float* src, float* dst, int64_t outer, int64_t r,
                int64_t inner) {
  switch (isa) {
    case Isa::kAvx512:
      return avx512::reduce(op, src, dst, outer, r, inner);
    case Isa::kAvx2:
      return avx2::reduce(op, src, dst, outer, r, inner);
    case Isa::kRef:
      break;
  }
  ref::reduce(op, src, dst, outer, r, inner);
}

void reduce(ReduceOp op, const float* src, float* dst, int64_t outer, int64_t r, int64_t inner) {
  reduce_isa(best_isa(), op, src, dst, outer, r, inner);
}
void reduce(ReduceOp op, const double* src, double* dst, int64_t outer, int64_t r, int64_t inner) {
  ref::reduce(op, src, dst, outer, r, inner);
}

}  // namespace kiln::kernels
