// CPU feature detection and the instruction sets kiln has kernels for.
#pragma once

#include <vector>

namespace kiln::kernels {

enum class Isa { kRef, kAvx2, kAvx512 };

struct CpuFeatures {
  bool avx2_fma = false;  // AVX2 + FMA3
  bool avx512 = false;    // AVX-512 F, BW, DQ, VL
  bool avx512_bf16 = false;
  bool amx_bf16 = false;
};

const CpuFeatures& cpu_features();
// The fastest ISA this CPU runs.
Isa best_isa();
// Every ISA this CPU runs, the reference first.
std::vector<Isa> available_isas();
const char* isa_name(Isa isa);

}  // namespace kiln::kernels
