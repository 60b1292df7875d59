// The interface every model of the registry implements: one input tensor in,
// logits out. Tasks (classification, language modelling, ...) own the loss.
#pragma once

#include <map>
#include <string>

#include "kiln/nn/module.h"

namespace kiln::models {

class Model : public nn::Module {
 public:
  // image models: (N, H, W, C) f32 -> (N, classes);
  // sequence models: tokens (B, T) i64 -> (B, T, vocab).
  virtual Tensor forward(const Tensor& input) = 0;

  // An auxiliary training loss of the last forward, already weighted (a
  // mixture of experts' load-balancing and router z-losses): a scalar the
  // task adds to its loss, or undefined when the model has none.
  virtual Tensor aux_loss() const { return Tensor(); }
  // Named scalar diagnostics of the last forward (expert utilisation, ...)
  // that the task logs with its step metrics.
  virtual std::map<std::string, double> metrics() const { return {}; }
};

}  // namespace kiln::models
