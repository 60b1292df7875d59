#include "kernels/cpu.h"

namespace kiln::kernels {

const CpuFeatures& cpu_features() {
  static const CpuFeatures features = [] {
    __builtin_cpu_init();
    CpuFeatures f;
    f.avx2_fma = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    f.avx512 = f.avx2_fma && __builtin_cpu_supports("avx512f") &&
               __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
               __builtin_cpu_supports("avx512vl");
    f.avx512_bf16 = f.avx512 && __builtin_cpu_supports("avx512bf16");
    // g++ 12 has no __builtin_cpu_supports("amx-bf16"): read CPUID leaf 7 EDX bit 22.
    unsigned int eax = 7, ebx = 0, ecx = 0, edx = 0;
    __asm__ volatile("cpuid" : "+a"(eax), "=b"(ebx), "+c"(ecx), "=d"(edx));
    f.amx_bf16 = f.avx512 && ((edx >> 22) & 1u) != 0;
    return f;
  }();
  return features;
}

Isa best_isa() {
  const CpuFeatures& f = cpu_features();
  if (f.avx512) return Isa::kAvx512;
  if (f.avx2_fma) return Isa::kAvx2;
  return Isa::kRef;
}

std::vector<Isa> available_isas() {
  std::vector<Isa> isas{Isa::kRef};
  if (cpu_features().avx2_fma) isas.push_back(Isa::kAvx2);
  if (cpu_features().avx512) isas.push_back(Isa::kAvx512);
  return isas;
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::kRef:
      return "ref";
    case Isa::kAvx2:
      return "avx2";
    case Isa::kAvx512:
      return "avx512";
  }
  return "?";
}

}  // namespace kiln::kernels
