// AVX-512 optimizer kernels: the shared body in kernels/simd/optim_impl.inc.
#include "kernels/optim.h"
#include "kernels/parallel.h"
#include "kernels/simd/vec_avx512.h"

namespace kiln::kernels::avx512 {
#include "kernels/simd/optim_impl.inc"
}  // namespace kiln::kernels::avx512
