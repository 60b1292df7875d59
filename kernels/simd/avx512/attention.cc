// AVX-512 attention block steps: the shared body in kernels/simd/attention_impl.inc.
#include <math.h>

#include "kernels/attention.h"
#include "kernels/simd/vec_avx512.h"

namespace kiln::kernels::avx512 {
#include "kernels/simd/attention_impl.inc"
}  // namespace kiln::kernels::avx512
