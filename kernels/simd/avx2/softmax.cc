// AVX2 + FMA softmax kernels: the shared body in kernels/simd/softmax_impl.inc.
#include <math.h>

#include "kernels/parallel.h"
#include "kernels/simd/vec_avx2.h"
#include "kernels/softmax.h"

namespace kiln::kernels::avx2 {
#include "kernels/simd/softmax_impl.inc"
}  // namespace kiln::kernels::avx2
