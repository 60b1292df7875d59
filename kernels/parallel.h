// Threading helpers for kernels (OpenMP, the runtime oneDNN uses too).
//
// Everything here has internal linkage on purpose: this header is included by
// files compiled for different ISAs, and an inline function with external
// linkage could be merged across them by the linker, running AVX-512 code on
// a CPU without it.
#pragma once

#include <omp.h>

#include <algorithm>
#include <cstdint>

#include "kernels/elementwise.h"

namespace kiln::kernels {

// Elements per thread below which splitting work costs more than it saves.
static constexpr int64_t kElementwiseGrain = 32768;

// Calls f(begin, end) over a partition of [0, n) into at most one range per
// thread, each at least `grain` long. The partition may depend on the thread
// count, so f must compute each index the same way whatever range holds it.
template <class F>
static inline void parallel_for(int64_t n, int64_t grain, const F& f) {
  if (n <= 0) return;
  const int64_t max_chunks = (n + grain - 1) / std::max<int64_t>(grain, 1);
  const int64_t threads = std::min<int64_t>(max_chunks, omp_get_max_threads());
  if (threads <= 1 || omp_in_parallel()) {
    f(int64_t{0}, n);
    return;
  }
#pragma omp parallel num_threads(static_cast <int>(threads))
  {
    const int64_t t = omp_get_thread_num();
    const int64_t count = omp_get_num_threads();
    const int64_t begin = n * t / count;
    const int64_t end = n * (t + 1) / count;
    if (begin < end) f(begin, end);
  }
}

static inline int64_t broadcast_numel(const BroadcastDesc& d) {
  int64_t n = 1;
  for (int i = 0; i < d.rank; ++i) n *= d.shape[i];
  return n;
}

// Offsets of operands a and b at the start of output row `row` (rows are
// the output with its last dim removed).
static inline void broadcast_row_offsets(const BroadcastDesc& d, int64_t row, int64_t* a_offset,
                                         int64_t* b_offset) {
  int64_t oa = 0, ob = 0;
  for (int i = d.rank - 2; i >= 0; --i) {
    const int64_t idx = row % d.shape[i];
    row /= d.shape[i];
    oa += idx * d.a_strides[i];
    ob += idx * d.b_strides[i];
  }
  *a_offset = oa;
  *b_offset = ob;
}

}  // namespace kiln::kernels
