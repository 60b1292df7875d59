// Internal helpers of the Perceiver family.
#pragma once

#include <memory>
#include <string>

#include "kiln/nn/init.h"
#include "kiln/nn/layers.h"

namespace kiln::models::perceiver {

using nn::ModuleList;

// Named children, for the model's input and decoder groups.
class ModuleGroup : public nn::Module {
 public:
  template <class M>
  std::shared_ptr<M> add(const std::string& name, std::shared_ptr<M> module) {
    return register_module(name, std::move(module));
  }
  Tensor add_parameter(const std::string& name, Tensor value) {
    return register_parameter(name, std::move(value));
  }
};

// The official conv_1d: hk.Linear with VarianceScaling(1.0) (fan-in,
// truncated normal, stddev corrected for the truncation).
inline nn::Initializer dense_init() {
  return [](const Tensor& w, Generator& gen) {
    nn::init::variance_scaling_(w, 1.0, nn::init::FanMode::kFanIn,
                                nn::init::Distribution::kTruncatedNormal, gen);
  };
}

// The official MLP: Linear(C -> widening C), GELU (tanh form), Linear(-> C).
inline std::shared_ptr<nn::Mlp> make_mlp(int64_t channels, int64_t widening, Generator& gen) {
  return std::make_shared<nn::Mlp>(nn::MlpOptions{.in_features = channels,
                                                  .hidden = {widening * channels},
                                                  .out_features = channels,
                                                  .activation = "gelu",
                                                  .weight_init = dense_init()},
                                   gen);
}

}  // namespace kiln::models::perceiver
