// Batched matrix multiplication over strided operands: c = a @ b.
//
// The operands are described, not copied: each has element strides for its
// two matrix dims (one of them 1 for oneDNN: row- or column-major, which is
// how transposed views reach oneDNN without a copy) and for the batch dims
// (0 where it is broadcast). c is always contiguous.
//
// ref:: is the oracle and the f64 path (templated over float and double);
// onednn:: runs f32 and bf16 (f32 accumulation, falling back to f32 compute
// with conversions on CPUs without bf16 support) with cached primitives.
#pragma once

#include <cstdint>
#include <string>

#include "kiln/tensor/dtype.h"

namespace kiln::kernels {

class OnednnRuntime;

// c (batch..., M, N) = a (batch..., M, K) @ b (batch..., K, N).
struct MatmulDesc {
  // oneDNN takes up to 12 dims; kiln coalesces batch dims before it gets here.
  static constexpr int kMaxBatchRank = 8;
  int batch_rank = 0;
  int64_t batch[kMaxBatchRank] = {};
  int64_t a_batch_strides[kMaxBatchRank] = {};  // 0 where a is broadcast
  int64_t b_batch_strides[kMaxBatchRank] = {};
  int64_t m = 0, n = 0, k = 0;
  int64_t a_strides[2] = {0, 1};  // (row, column) element strides of a (M, K)
  int64_t b_strides[2] = {0, 1};  // of b (K, N)
  DType dtype = DType::kF32;      // of a, b and c
};

int64_t matmul_batch_numel(const MatmulDesc& d);
// True when oneDNN can take a (rows, cols) operand as is: row-major or
// column-major with a leading dim that keeps rows (columns) apart. If so and
// `normalized` is given, writes its strides with those of size-1 dims made
// consistent with that layout.
bool matmul_operand_is_blas_like(int64_t rows, int64_t cols, const int64_t strides[2],
                                 int64_t* normalized = nullptr);
// "(B..., M, K) @ (K, N)"-style text for errors and keys.
std::string matmul_desc_str(const MatmulDesc& d);

namespace ref {
// Accumulates in double.
void matmul(const MatmulDesc& d, const float* a, const float* b, float* c);
void matmul(const MatmulDesc& d, const double* a, const double* b, double* c);
}  // namespace ref

namespace onednn {
// f32 or bf16 (d.dtype); pointers to the first element of each operand.
// Both operands must satisfy matmul_operand_is_blas_like.
void matmul(OnednnRuntime& runtime, const MatmulDesc& d, const void* a, const void* b, void* c);
}  // namespace onednn

}  // namespace kiln::kernels
