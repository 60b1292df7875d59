#include "kernels/reduce.h"

#include <algorithm>
#include <limits>
#include <vector>

#include "kernels/parallel.h"

namespace kiln::kernels::ref {
namespace {

template <class T>
T identity(ReduceOp op) {
  switch (op) {
    case ReduceOp::kMax:
      return -std::numeric_limits<T>::infinity();
    case ReduceOp::kMin:
      return std::numeric_limits<T>::infinity();
    default:
      return T(0);
  }
}

template <class T>
T combine(ReduceOp op, T acc, T x) {
  switch (op) {
    case ReduceOp::kSum:
      return acc + x;
    case ReduceOp::kSumSquares:
      return acc + x * x;
    case ReduceOp::kMax:  // NaN propagates, as in NumPy, PyTorch and JAX
      return (x > acc || x != x) ? x : acc;
    case ReduceOp::kMin:
      return (x < acc || x != x) ? x : acc;
  }
  return acc;
}

// Combines partial results (a sum of squares combines by plain addition).
template <class T>
T merge(ReduceOp op, T acc, T partial) {
  return combine(op == ReduceOp::kSumSquares ? ReduceOp::kSum : op, acc, partial);
}

template <class T>
void reduce_impl(ReduceOp op, const T* src, T* dst, int64_t outer, int64_t r, int64_t inner) {
  if (outer * inner == 0) return;
  if (inner == 1 && r > kReduceBlock) {
    // Long rows: fixed blocks, each reduced sequentially, then merged in order.
    const int64_t blocks = (r + kReduceBlock - 1) / kReduceBlock;
    std::vector<T> partial(static_cast<size_t>(outer * blocks));
    parallel_for(outer * blocks, 1, [&](int64_t b, int64_t e) {
      for (int64_t job = b; job < e; ++job) {
        const int64_t o = job / blocks, blk = job % blocks;
        const T* row = src + o * r;
        T acc = identity<T>(op);
        for (int64_t i = blk * kReduceBlock; i < std::min(r, (blk + 1) * kReduceBlock); ++i) {
          acc = combine(op, acc, row[i]);
        }
        partial[job] = acc;
      }
    });
    for (int64_t o = 0; o < outer; ++o) {
      T acc = identity<T>(op);
      for (int64_t blk = 0; blk < blocks; ++blk) acc = merge(op, acc, partial[o * blocks + blk]);
      dst[o] = acc;
    }
    return;
  }
  const int64_t work_per_output = std::max<int64_t>(r, 1);
  parallel_for(outer * inner, std::max<int64_t>(1, kElementwiseGrain / work_per_output),
               [&](int64_t b, int64_t e) {
                 for (int64_t idx = b; idx < e; ++idx) {
                   const int64_t o = idx / inner, i = idx % inner;
                   const T* p = src + o * r * inner + i;
                   T acc = identity<T>(op);
                   for (int64_t k = 0; k < r; ++k) acc = combine(op, acc, p[k * inner]);
                   dst[idx] = acc;
                 }
               });
}

}  // namespace

void reduce(ReduceOp op, const float* src, float* dst, int64_t outer, int64_t r, int64_t inner) {
  reduce_impl(op, src, dst, outer, r, inner);
}
void reduce(ReduceOp op, const double* src, double* dst, int64_t outer, int64_t r, int64_t inner) {
  reduce_impl(op, src, dst, outer, r, inner);
}

}  // namespace kiln::kernels::ref
