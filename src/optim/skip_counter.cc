#include "kiln/optim/skip_counter.h"

#include "kiln/core/error.h"

namespace kiln::optim {

SkipCounter::SkipCounter(int64_t max_consecutive) : max_consecutive_(max_consecutive) {
  KILN_CHECK(max_consecutive >= 0, "SkipCounter: max_consecutive is ", max_consecutive,
             "; it must be >= 0");
}

void SkipCounter::record(bool applied, int64_t step) {
  if (applied) {
    consecutive_ = 0;
    return;
  }
  ++consecutive_;
  ++total_;
  KILN_CHECK(consecutive_ <= max_consecutive_, "training diverged: ", consecutive_,
             " consecutive optimizer steps were skipped because gradients held NaN or Inf "
             "(the last at step ",
             step, "; the limit is ", max_consecutive_, ", ", total_,
             " skipped in all). Lower the learning rate, clip gradients, or raise the limit.");
}

}  // namespace kiln::optim
