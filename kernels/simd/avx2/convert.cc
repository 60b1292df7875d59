// AVX2 + FMA convert kernels: the shared body in kernels/simd/convert_impl.inc.
#include "kernels/convert.h"
#include "kernels/parallel.h"
#include "kernels/simd/vec_avx2.h"

namespace kiln::kernels::avx2 {
#include "kernels/simd/convert_impl.inc"
}  // namespace kiln::kernels::avx2
