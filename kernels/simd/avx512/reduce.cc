// AVX-512 reduce kernels: the shared body in kernels/simd/reduce_impl.inc.
#include "kernels/reduce.h"
#include "kernels/parallel.h"
#include "kernels/simd/vec_avx512.h"

namespace kiln::kernels::avx512 {
#include "kernels/simd/reduce_impl.inc"
}  // namespace kiln::kernels::avx512
