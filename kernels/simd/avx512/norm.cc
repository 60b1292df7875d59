// AVX-512 norm kernels: the shared body in kernels/simd/norm_impl.inc.
#include <math.h>

#include "kernels/norm.h"
#include "kernels/parallel.h"
#include "kernels/simd/vec_avx512.h"

namespace kiln::kernels::avx512 {
#include "kernels/simd/norm_impl.inc"
}  // namespace kiln::kernels::avx512
