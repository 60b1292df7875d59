#include "kiln/ops/flops.h"

namespace kiln {
namespace {
thread_local FlopCounter* t_counter = nullptr;
}  // namespace

FlopCounter::FlopCounter() : previous_(t_counter) { t_counter = this; }

FlopCounter::~FlopCounter() {
  t_counter = previous_;
  if (previous_ != nullptr) previous_->flops_ += flops_;
}

void FlopCounter::add(int64_t flops) {
  if (t_counter != nullptr) t_counter->flops_ += flops;
}

}  // namespace kiln
