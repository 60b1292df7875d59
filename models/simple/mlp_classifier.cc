#include "kiln/models/simple/convnet.h"
#include "kiln/ops/shape.h"

namespace kiln::models {

MlpClassifier::MlpClassifier(const MlpClassifierOptions& options, Generator& gen,
                             std::shared_ptr<Generator> dropout_gen)
    : options_(options) {
  KILN_CHECK(options.input_shape.size() == 3, "MlpClassifier: input_shape must be (H, W, C)");
  int64_t in = 1;
  for (int64_t s : options.input_shape) in *= s;
  mlp_ = register_module(
      "mlp", std::make_shared<nn::Mlp>(nn::MlpOptions{.in_features = in,
                                                      .hidden = options.hidden,
                                                      .out_features = options.num_classes,
                                                      .activation = options.activation},
                                       gen));
  dropout_ = register_module(
      "dropout", std::make_shared<nn::Dropout>(options.dropout, std::move(dropout_gen)));
}

Tensor MlpClassifier::forward(const Tensor& images) {
  KILN_CHECK(images.dim() == 4, "MlpClassifier: expects (N, H, W, C) images, got ",
             shape_str(images.shape()));
  return mlp_->forward(dropout_->forward(flatten(images, 1)));
}

}  // namespace kiln::models
