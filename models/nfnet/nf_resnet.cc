#include "kiln/models/nfnet/nf_resnet.h"

#include "kiln/nn/init.h"
#include "kiln/ops/nn.h"
#include "kiln/ops/reduce.h"

namespace kiln::models {

NFResNet::NFResNet(const NFResNetOptions& options, Generator& gen,
                   std::shared_ptr<Generator> noise_gen)
    : options_(options),
      plan_(nf_resnet_plan(options)),
      activation_(nf_activation(options.activation)) {
  auto stem = register_module("stem", std::make_shared<ModuleList>());
  stem_ =
      stem->add("conv0", std::make_shared<WSConv2d>(
                             WSConv2dOptions{.in_channels = options.in_channels,
                                             .out_channels = plan_.stem_channels,
                                             .kernel = {options.stem_kernel, options.stem_kernel},
                                             .stride = {options.stem_stride, options.stem_stride},
                                             .standardize = options.weight_standardization},
                             gen));
  auto stages = register_module("stages", std::make_shared<ModuleList>());
  for (size_t s = 0; s < plan_.stages.size(); ++s) {
    auto stage = stages->add(std::to_string(s), std::make_shared<ModuleList>());
    auto blocks = stage->add("blocks", std::make_shared<ModuleList>());
    for (size_t b = 0; b < plan_.stages[s].size(); ++b) {
      blocks_.push_back(blocks->add(std::to_string(b),
                                    std::make_shared<NFBlock>(plan_.stages[s][b], gen, noise_gen)));
    }
  }
  dropout_ = register_module("dropout",
                             std::make_shared<nn::Dropout>(options.dropout, std::move(noise_gen)));
  head_ = register_module(
      "head", std::make_shared<nn::Linear>(
                  nn::LinearOptions{
                      .in_features = plan_.stages.back().back().out_channels,
                      .out_features = options.num_classes,
                      .weight_init = [](const Tensor& w,
                                        Generator& g) { nn::init::normal_(w, 0.0, 0.01, g); }},
                  gen));
}

Tensor NFResNet::forward(const Tensor& images, std::vector<BlockSignal>* signals) {
  KILN_CHECK(images.dim() == 4 && images.size(3) == options_.in_channels,
             "NFResNet: expects (N, H, W, ", options_.in_channels, ") images, got ",
             shape_str(images.shape()));
  Tensor h = stem_->forward(images);
  if (options_.stem_pool) {
    h = max_pool2d(h, {.kernel = {3, 3}, .stride = {2, 2}, .padding_mode = PaddingMode::kSame});
  }
  for (auto& block : blocks_) {
    if (signals != nullptr) {
      signals->emplace_back();
      h = block->forward(h, &signals->back());
    } else {
      h = block->forward(h);
    }
  }
  const Tensor pooled = mean(activation_(h), {1, 2});  // (N, C)
  return head_->forward(dropout_->forward(pooled));
}

}  // namespace kiln::models
