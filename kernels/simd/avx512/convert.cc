// AVX-512 convert kernels: the shared body in kernels/simd/convert_impl.inc.
#include "kernels/convert.h"
#include "kernels/parallel.h"
#include "kernels/simd/vec_avx512.h"

namespace kiln::kernels::avx512 {
#include "kernels/simd/convert_impl.inc"
}  // namespace kiln::kernels::avx512
