// Reductions over the middle dim of a contiguous (outer, r, inner) view.
// Every output is accumulated in a fixed order that does not depend on the
// thread count (long rows are summed in fixed blocks, then the blocks in
// order), so results are bitwise reproducible.
#pragma once

#include <cstdint>

#include "kernels/cpu.h"

namespace kiln::kernels {

// kMax and kMin propagate NaN: any NaN in a reduced row gives NaN.
enum class ReduceOp : int { kSum, kMax, kMin, kSumSquares };

// Rows longer than this are split into blocks of this many elements.
inline constexpr int64_t kReduceBlock = 8192;

#define KILN_REDUCE_KERNELS(T) \
  void reduce(ReduceOp op, const T* src, T* dst, int64_t outer, int64_t r, int64_t inner);

namespace ref {
KILN_REDUCE_KERNELS(float)
KILN_REDUCE_KERNELS(double)
}  // namespace ref
namespace avx2 {
KILN_REDUCE_KERNELS(float)
}
namespace avx512 {
KILN_REDUCE_KERNELS(float)
}

KILN_REDUCE_KERNELS(float)
KILN_REDUCE_KERNELS(double)
void reduce_isa(Isa isa, ReduceOp op, const float* src, float* dst, int64_t outer, int64_t r,
                int64_t inner);

}  // namespace kiln::kernels
