// Counter-based random generator (Philox4x32-10). A random op reserves a
// range of counters and element i of its output depends only on (seed,
// counter, i), so results never depend on the thread count.
#pragma once

#include <cstdint>

namespace kiln {

class Generator {
 public:
  explicit Generator(uint64_t seed = 0) : seed_(seed) {}

  uint64_t seed() const { return seed_; }
  // Number of 128-bit Philox blocks consumed so far.
  uint64_t offset() const { return offset_; }
  void set_state(uint64_t seed, uint64_t offset) {
    seed_ = seed;
    offset_ = offset;
  }
  // Reserves `blocks` Philox blocks (4 x 32 random bits each) and returns the
  // first block's counter.
  uint64_t reserve(uint64_t blocks) {
    const uint64_t first = offset_;
    offset_ += blocks;
    return first;
  }

 private:
  uint64_t seed_;
  uint64_t offset_ = 0;
};

}  // namespace kiln
