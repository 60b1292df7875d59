// AVX-512 softmax kernels: the shared body in kernels/simd/softmax_impl.inc.
#include <math.h>

#include "kernels/parallel.h"
#include "kernels/simd/vec_avx512.h"
#include "kernels/softmax.h"

namespace kiln::kernels::avx512 {
#include "kernels/simd/softmax_impl.inc"
}  // namespace kiln::kernels::avx512
