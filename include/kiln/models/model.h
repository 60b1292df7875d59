// The interface every model of the registry implements: one input tensor in,
// logits out. Tasks (classification, language modelling, ...) own the loss.
#pragma once

#include <string>

#include "kiln/nn/module.h"

namespace kiln::models {

class Model : public nn::Module {
 public:
  // image models: (N, H, W, C) f32 -> (N, classes);
  // sequence models: tokens (B, T) i64 -> (B, T, vocab).
  virtual Tensor forward(const Tensor& input) = 0;
};

}  // namespace kiln::models
