#include "kiln/models/simple/convnet.h"

#include "kiln/ops/nn.h"
#include "kiln/ops/reduce.h"

namespace kiln::models {

ConvNet::ConvNet(const ConvNetOptions& options, Generator& gen,
                 std::shared_ptr<Generator> dropout_gen)
    : options_(options), activation_(nn::activation_by_name(options.activation)) {
  int64_t in = options.in_channels;
  for (size_t i = 0; i < options.channels.size(); ++i) {
    nn::Conv2dOptions conv{.in_channels = in, .out_channels = options.channels[i]};
    conv.conv.padding_mode = PaddingMode::kSame;
    convs_.push_back(
        register_module("conv" + std::to_string(i), std::make_shared<nn::Conv2d>(conv, gen)));
    in = options.channels[i];
  }
  dropout_ = register_module(
      "dropout", std::make_shared<nn::Dropout>(options.dropout, std::move(dropout_gen)));
  head_ = register_module(
      "head", std::make_shared<nn::Mlp>(nn::MlpOptions{.in_features = in,
                                                       .hidden = {options.hidden},
                                                       .out_features = options.num_classes,
                                                       .activation = options.activation},
                                        gen));
}

Tensor ConvNet::forward(const Tensor& images) {
  KILN_CHECK(images.dim() == 4 && images.size(3) == options_.in_channels,
             "ConvNet: expects (N, H, W, ", options_.in_channels, ") images, got ",
             shape_str(images.shape()));
  Tensor h = images;
  for (auto& conv : convs_) {
    h = activation_(conv->forward(h));
    h = max_pool2d(h, {.kernel = {2, 2}, .stride = {2, 2}, .padding_mode = PaddingMode::kSame});
  }
  h = mean(h, {1, 2});  // global average pool: (N, C)
  return head_->forward(dropout_->forward(h));
}

}  // namespace kiln::models
