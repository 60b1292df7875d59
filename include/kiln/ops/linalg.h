// Matrix multiplication on oneDNN.
#pragma once

#include "kiln/tensor/tensor.h"

namespace kiln {

// a (..., M, K) @ b (..., K, N) -> (..., M, N). Batch dims broadcast; 1-D
// operands are promoted like NumPy (and the added dim removed). Transposed
// operands (transpose() views) are used in place, without a copy. f32 and
// bf16 (with f32 accumulation and output of a's dtype); f64 runs the
// reference kernel.
Tensor matmul(const Tensor& a, const Tensor& b);

}  // namespace kiln
