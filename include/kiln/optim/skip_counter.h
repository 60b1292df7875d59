// SkipCounter: enforces a limit on consecutive skipped optimizer steps.
//
// Optimizer::step skips (changes nothing) when a gradient is NaN or Inf; a
// few isolated skips are harmless, a long run means training has diverged.
// The trainer records every step's outcome here.
#pragma once

#include <cstdint>

namespace kiln::optim {

class SkipCounter {
 public:
  // max_consecutive >= 0: the number of consecutive skipped steps tolerated
  // (0: the first skipped step is an error).
  explicit SkipCounter(int64_t max_consecutive);

  // Records the outcome of step `step` (for the message). A skipped step
  // extends the current run of skips and throws kiln::Error when the run
  // exceeds the limit; an applied step ends the run.
  void record(bool applied, int64_t step);

  // Restores the counts of a checkpointed run.
  void restore(int64_t consecutive, int64_t total) {
    consecutive_ = consecutive;
    total_ = total;
  }

  int64_t consecutive() const { return consecutive_; }
  int64_t total_skipped() const { return total_; }
  int64_t max_consecutive() const { return max_consecutive_; }

 private:
  int64_t max_consecutive_;
  int64_t consecutive_ = 0;
  int64_t total_ = 0;
};

}  // namespace kiln::optim
