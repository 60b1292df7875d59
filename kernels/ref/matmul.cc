#include "kernels/matmul.h"

#include <algorithm>
#include <vector>

#include "kernels/parallel.h"

namespace kiln::kernels {

int64_t matmul_batch_numel(const MatmulDesc& d) {
  int64_t n = 1;
  for (int i = 0; i < d.batch_rank; ++i) n *= d.batch[i];
  return n;
}

bool matmul_operand_is_blas_like(int64_t rows, int64_t cols, const int64_t strides[2],
                                 int64_t* normalized) {
  if (rows == 0 || cols == 0) return true;
  // The stride of a dim of size 1 never matters.
  const bool row_major = (cols == 1 || strides[1] == 1) && (rows == 1 || strides[0] >= cols);
  const bool col_major = (rows == 1 || strides[0] == 1) && (cols == 1 || strides[1] >= rows);
  if (normalized != nullptr) {
    normalized[0] = row_major ? (rows == 1 ? cols : strides[0]) : 1;
    normalized[1] = row_major ? 1 : (cols == 1 ? rows : strides[1]);
  }
  return row_major || col_major;
}

std::string matmul_desc_str(const MatmulDesc& d) {
  std::string batch;
  for (int i = 0; i < d.batch_rank; ++i) batch += std::to_string(d.batch[i]) + ", ";
  return "(" + batch + std::to_string(d.m) + ", " + std::to_string(d.k) + ") @ (" + batch +
         std::to_string(d.k) + ", " + std::to_string(d.n) + ")";
}

namespace ref {
namespace {

// Offsets of a and b for flat batch index `index` (row-major over d.batch).
void batch_offsets(const MatmulDesc& d, int64_t index, int64_t* a_off, int64_t* b_off) {
  int64_t oa = 0, ob = 0;
  for (int i = d.batch_rank - 1; i >= 0; --i) {
    const int64_t idx = index % d.batch[i];
    index /= d.batch[i];
    oa += idx * d.a_batch_strides[i];
    ob += idx * d.b_batch_strides[i];
  }
  *a_off = oa;
  *b_off = ob;
}

template <class T>
void matmul_impl(const MatmulDesc& d, const T* a, const T* b, T* c) {
  const int64_t rows = matmul_batch_numel(d) * d.m;
  if (rows == 0 || d.n == 0) return;
  // Each output row is computed by one thread in a fixed k order, so the
  // result does not depend on the thread count.
  const int64_t grain = std::max<int64_t>(1, 4096 / std::max<int64_t>(1, d.n * d.k));
  parallel_for(rows, grain, [&](int64_t begin, int64_t end) {
    std::vector<double> acc(static_cast<size_t>(d.n));
    for (int64_t row = begin; row < end; ++row) {
      const int64_t bi = row / d.m, i = row % d.m;
      int64_t a_off, b_off;
      batch_offsets(d, bi, &a_off, &b_off);
      const T* a_row = a + a_off + i * d.a_strides[0];
      const T* b_mat = b + b_off;
      std::fill(acc.begin(), acc.end(), 0.0);
      for (int64_t p = 0; p < d.k; ++p) {
        const double av = static_cast<double>(a_row[p * d.a_strides[1]]);
        const T* b_row = b_mat + p * d.b_strides[0];
        for (int64_t j = 0; j < d.n; ++j)
          acc[j] += av * static_cast<double>(b_row[j * d.b_strides[1]]);
      }
      T* c_row = c + row * d.n;
      for (int64_t j = 0; j < d.n; ++j) c_row[j] = static_cast<T>(acc[j]);
    }
  });
}

}  // namespace

void matmul(const MatmulDesc& d, const float* a, const float* b, float* c) {
  matmul_impl(d, a, b, c);
}
void matmul(const MatmulDesc& d, const double* a, const double* b, double* c) {
  matmul_impl(d, a, b, c);
}

}  // namespace ref
}  // namespace kiln::kernels
