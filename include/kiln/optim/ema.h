// Exponential moving average of weights, as deepmind-research nfnets: the
// shadows start as copies of the tracked tensors (the official code
// initialises its EMA parameters exactly like the parameters), and after
// each applied optimizer step
//   shadow = shadow * d + value * (1 - d)
//   d = min(decay, (1 + step) / (10 + step))     (utils.tf1_ema; warmup on)
//   d = decay                                    (utils.ema; warmup off)
// where `step` is the global step of the update just applied, counted from 0
// (experiment.py passes global_step). NFNets: decay 0.99999, warmup on, over
// the parameters and the model state.
//
// Evaluate with the EMA weights by swapping them in and out (swap(), or an
// EmaSwapScope), or copy them over for good (copy_to()).
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/status.h"
#include "kiln/nn/module.h"
#include "kiln/tensor/tensor.h"

namespace kiln::optim {

struct EmaOptions {
  double decay = 0.99999;  // [0, 1]
  bool warmup = true;      // the TF1-style warmup above
};

class Ema {
 public:
  // Tracks `tensors` (f32 or f64, contiguous, unique names).
  explicit Ema(const nn::NamedTensors& tensors, const EmaOptions& options = {});
  // Tracks a module's parameters and its floating-point buffers.
  explicit Ema(const nn::Module& module, const EmaOptions& options = {});

  // The decay used by update(step); step >= 0.
  double decay_at(int64_t step) const;
  // Moves every shadow towards its tensor (grad mode off).
  void update(int64_t step);

  // Copies the shadows into the tracked tensors.
  void copy_to() const;
  // Exchanges the tracked tensors' values with the shadows; a second call
  // restores them.
  void swap();

  // The shadows, under the tracked tensors' names (live, not copies): the
  // EMA weights load directly into a model with Module::load_state_dict.
  const nn::NamedTensors& state_dict() const { return shadows_; }
  // Copies shadows in; names, shapes and dtypes must match exactly. On error
  // nothing is modified.
  absl::Status load_state_dict(const std::map<std::string, Tensor>& state);

  const EmaOptions& options() const { return options_; }

 private:
  EmaOptions options_;
  nn::NamedTensors tracked_;
  nn::NamedTensors shadows_;
};

// Swaps the EMA weights in for the scope's lifetime (even on exceptions).
class EmaSwapScope {
 public:
  explicit EmaSwapScope(Ema& ema) : ema_(ema) { ema_.swap(); }
  ~EmaSwapScope() { ema_.swap(); }
  EmaSwapScope(const EmaSwapScope&) = delete;
  EmaSwapScope& operator=(const EmaSwapScope&) = delete;

 private:
  Ema& ema_;
};

}  // namespace kiln::optim
