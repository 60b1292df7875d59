// Strided copy with dtype conversion: the kernel behind contiguous(), casts,
// expand materialisation and in-place copies.
#pragma once

#include <cstdint>

#include "kiln/tensor/dtype.h"

namespace kiln::kernels {

struct StridedOperand {
  void* data = nullptr;  // first element of the view
  DType dtype = DType::kF32;
  const int64_t* strides = nullptr;  // element strides, one per dim
};

// dst[i] = convert(src[i]) for every index i of `shape` (rank dims).
void copy_strided(const StridedOperand& dst, const StridedOperand& src, const int64_t* shape,
                  int rank);
// Fills a contiguous buffer of n elements with value converted to dtype.
void fill(void* dst, DType dtype, int64_t n, double value);

// Contiguous f32 <-> bf16 (round to nearest even).
void f32_to_bf16(const float* src, uint16_t* dst, int64_t n);
void bf16_to_f32(const uint16_t* src, float* dst, int64_t n);

}  // namespace kiln::kernels
