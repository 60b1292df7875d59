#include "kiln/nn/layers.h"

namespace kiln::nn {

Dropout::Dropout(double rate, std::shared_ptr<Generator> gen) : rate_(rate), gen_(std::move(gen)) {
  KILN_CHECK(rate >= 0 && rate < 1, "Dropout: rate must be in [0, 1), got ", rate);
  KILN_CHECK(gen_ != nullptr || rate == 0, "Dropout: a generator is needed for rate ", rate);
}

Tensor Dropout::forward(const Tensor& x) {
  if (rate_ == 0 || !is_training()) return x;
  return dropout(x, rate_, *gen_, true);
}

}  // namespace kiln::nn
