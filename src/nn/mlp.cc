#include "kiln/nn/layers.h"

namespace kiln::nn {

Mlp::Mlp(const MlpOptions& options, Generator& gen)
    : activation_(activation_by_name(options.activation)) {
  int64_t in = options.in_features;
  std::vector<int64_t> sizes = options.hidden;
  sizes.push_back(options.out_features);
  for (size_t i = 0; i < sizes.size(); ++i) {
    auto layer = std::make_shared<Linear>(LinearOptions{.in_features = in,
                                                        .out_features = sizes[i],
                                                        .bias = options.bias,
                                                        .weight_init = options.weight_init},
                                          gen);
    layers_.push_back(register_module("linear_" + std::to_string(i), layer));
    in = sizes[i];
  }
}

Tensor Mlp::forward(const Tensor& x) {
  Tensor h = x;
  for (size_t i = 0; i < layers_.size(); ++i) {
    h = layers_[i]->forward(h);
    if (i + 1 < layers_.size()) h = activation_(h);
  }
  return h;
}

Tensor Sequential::forward(const Tensor& x) {
  Tensor h = x;
  for (auto& layer : layers_) h = layer->forward(h);
  return h;
}

}  // namespace kiln::nn
