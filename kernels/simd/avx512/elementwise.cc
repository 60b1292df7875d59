// AVX-512 elementwise kernels: the shared body in kernels/simd/elementwise_impl.inc.
#include <math.h>  // powf: a C function, never an ISA-flagged inline copy

#include "kernels/elementwise.h"
#include "kernels/parallel.h"
#include "kernels/simd/vec_avx512.h"

namespace kiln::kernels::avx512 {
#include "kernels/simd/elementwise_impl.inc"
}  // namespace kiln::kernels::avx512
