// Counting the FLOPs of matrix multiplications and convolutions (2 per
// multiply-add), as benchmarks.md counts them. Counting is off unless a
// FlopCounter is alive on the thread.
#pragma once

#include <cstdint>

namespace kiln {

class FlopCounter {
 public:
  FlopCounter();
  ~FlopCounter();
  FlopCounter(const FlopCounter&) = delete;
  FlopCounter& operator=(const FlopCounter&) = delete;

  int64_t flops() const { return flops_; }
  // Adds to the innermost live counter of this thread, if any (ops call it).
  static void add(int64_t flops);

 private:
  int64_t flops_ = 0;
  FlopCounter* previous_;
};

}  // namespace kiln
