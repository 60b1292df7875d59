#include "kernels/convert.h"

#include "kernels/parallel.h"
#include "kiln/tensor/dtype.h"

namespace kiln::kernels::ref {

void f32_to_bf16(const float* src, uint16_t* dst, int64_t n) {
  parallel_for(n, kElementwiseGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) dst[i] = BFloat16::from_float(src[i]);
  });
}

void bf16_to_f32(const uint16_t* src, float* dst, int64_t n) {
  parallel_for(n, kElementwiseGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) dst[i] = BFloat16::to_float(src[i]);
  });
}

}  // namespace kiln::kernels::ref
