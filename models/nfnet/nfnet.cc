#include "kiln/models/nfnet/nfnet.h"

#include "kiln/nn/init.h"
#include "kiln/ops/reduce.h"

namespace kiln::models {

NFNet::NFNet(const NFNetOptions& options, Generator& gen, std::shared_ptr<Generator> noise_gen)
    : options_(options),
      plan_(nfnet_plan(options)),
      activation_(nf_activation(options.activation)) {
  auto stem = register_module("stem", std::make_shared<ModuleList>());
  int64_t ch = options.in_channels;
  for (size_t i = 0; i < plan_.stem_channels.size(); ++i) {
    const int64_t stride = plan_.stem_strides[i];
    stem_.push_back(stem->add(
        "conv" + std::to_string(i),
        std::make_shared<WSConv2d>(WSConv2dOptions{.in_channels = ch,
                                                   .out_channels = plan_.stem_channels[i],
                                                   .kernel = {3, 3},
                                                   .stride = {stride, stride},
                                                   .standardize = options.weight_standardization},
                                   gen)));
    ch = plan_.stem_channels[i];
  }
  auto stages = register_module("stages", std::make_shared<ModuleList>());
  for (size_t s = 0; s < plan_.stages.size(); ++s) {
    auto stage = stages->add(std::to_string(s), std::make_shared<ModuleList>());
    auto blocks = stage->add("blocks", std::make_shared<ModuleList>());
    for (size_t b = 0; b < plan_.stages[s].size(); ++b) {
      blocks_.push_back(blocks->add(std::to_string(b),
                                    std::make_shared<NFBlock>(plan_.stages[s][b], gen, noise_gen)));
    }
  }
  final_conv_ = register_module(
      "final_conv", std::make_shared<WSConv2d>(
                        WSConv2dOptions{.in_channels = plan_.stages.back().back().out_channels,
                                        .out_channels = plan_.final_channels,
                                        .kernel = {1, 1},
                                        .standardize = options.weight_standardization},
                        gen));
  dropout_ = register_module("dropout",
                             std::make_shared<nn::Dropout>(options.dropout, std::move(noise_gen)));
  head_ = register_module("head", std::make_shared<nn::Linear>(
                                      nn::LinearOptions{.in_features = plan_.final_channels,
                                                        .out_features = options.num_classes,
                                                        .weight_init =
                                                            [](const Tensor& w, Generator& g) {
                                                              nn::init::normal_(w, 0.0, 0.01, g);
                                                            }},
                                      gen));
}

Tensor NFNet::forward(const Tensor& images, std::vector<BlockSignal>* signals) {
  const Tensor h = features(images, signals);  // (N, h, w, C)
  const Tensor pooled = mean(h, {1, 2});       // (N, C)
  return head_->forward(dropout_->forward(pooled));
}

Tensor NFNet::features(const Tensor& images, std::vector<BlockSignal>* signals) {
  KILN_CHECK(images.dim() == 4 && images.size(3) == options_.in_channels,
             "NFNet: expects (N, H, W, ", options_.in_channels, ") images, got ",
             shape_str(images.shape()));
  // Stem: the activation between convs, not after the last (the first block applies it).
  Tensor h = images;
  for (size_t i = 0; i < stem_.size(); ++i) {
    if (i > 0) h = activation_(h);
    h = stem_[i]->forward(h);
  }
  for (auto& block : blocks_) {
    if (signals != nullptr) {
      signals->emplace_back();
      h = block->forward(h, &signals->back());
    } else {
      h = block->forward(h);
    }
  }
  return activation_(final_conv_->forward(h));
}

}  // namespace kiln::models
