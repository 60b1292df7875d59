// Per-ISA f32 <-> bf16 conversion kernels (the dispatched ones are in copy.h).
#pragma once

#include <cstdint>

#include "kernels/cpu.h"

namespace kiln::kernels {

#define KILN_CONVERT_KERNELS                                    \
  void f32_to_bf16(const float* src, uint16_t* dst, int64_t n); \
  void bf16_to_f32(const uint16_t* src, float* dst, int64_t n);

namespace ref {
KILN_CONVERT_KERNELS
}
namespace avx2 {
KILN_CONVERT_KERNELS
}
namespace avx512 {
KILN_CONVERT_KERNELS
}

}  // namespace kiln::kernels
