// f32 <-> bf16 conversion, dispatched by ISA.
#include "kernels/convert.h"
#include "kernels/copy.h"

namespace kiln::kernels {

void f32_to_bf16(const float* src, uint16_t* dst, int64_t n) {
  switch (best_isa()) {
    case Isa::kAvx512:
      return avx512::f32_to_bf16(src, dst, n);
    case Isa::kAvx2:
      return avx2::f32_to_bf16(src, dst, n);
    case Isa::kRef:
      break;
  }
  ref::f32_to_bf16(src, dst, n);
}

void bf16_to_f32(const uint16_t* src, float* dst, int64_t n) {
  switch (best_isa()) {
    case Isa::kAvx512:
      return avx512::bf16_to_f32(src, dst, n);
    case Isa::kAvx2:
      return avx2::bf16_to_f32(src, dst, n);
    case Isa::kRef:
      break;
  }
  ref::bf16_to_f32(src, dst, n);
}

}  // namespace kiln::kernels
