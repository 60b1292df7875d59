// AVX2 + FMA optimizer kernels: the shared body in kernels/simd/optim_impl.inc.
#include "kernels/optim.h"
#include "kernels/parallel.h"
#include "kernels/simd/vec_avx2.h"

namespace kiln::kernels::avx2 {
#include "kernels/simd/optim_impl.inc"
}  // namespace kiln::kernels::avx2
