// AVX2 + FMA reduce kernels: the shared body in kernels/simd/reduce_impl.inc.
#include "kernels/reduce.h"
#include "kernels/parallel.h"
#include "kernels/simd/vec_avx2.h"

namespace kiln::kernels::avx2 {
#include "kernels/simd/reduce_impl.inc"
}  // namespace kiln::kernels::avx2
