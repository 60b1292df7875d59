// Small reference models for quick runs and tests: an MLP classifier, a
// small ConvNet, and a byte-level bigram-style language model.
#pragma once

#include <memory>
#include <vector>

#include "kiln/models/model.h"
#include "kiln/nn/layers.h"

namespace kiln::models {

struct MlpClassifierOptions {
  std::vector<int64_t> input_shape = {28, 28, 1};  // (H, W, C)
  std::vector<int64_t> hidden = {256};
  int64_t num_classes = 10;
  std::string activation = "relu";
  double dropout = 0.0;
};

// (N, H, W, C) -> flatten -> MLP -> (N, classes).
class MlpClassifier : public Model {
 public:
  MlpClassifier(const MlpClassifierOptions& options, Generator& gen,
                std::shared_ptr<Generator> dropout_gen);
  Tensor forward(const Tensor& images) override;

 private:
  MlpClassifierOptions options_;
  std::shared_ptr<nn::Mlp> mlp_;
  std::shared_ptr<nn::Dropout> dropout_;
};

struct ConvNetOptions {
  int64_t in_channels = 1;
  std::vector<int64_t> channels = {32, 64};  // one 3x3 conv + 2x2 max pool per entry
  int64_t hidden = 128;
  int64_t num_classes = 10;
  std::string activation = "relu";
  double dropout = 0.0;
};

// conv3x3 SAME -> act -> maxpool2 per stage, global average pool, MLP head.
class ConvNet : public Model {
 public:
  ConvNet(const ConvNetOptions& options, Generator& gen, std::shared_ptr<Generator> dropout_gen);
  Tensor forward(const Tensor& images) override;

 private:
  ConvNetOptions options_;
  std::vector<std::shared_ptr<nn::Conv2d>> convs_;
  std::shared_ptr<nn::Mlp> head_;
  std::shared_ptr<nn::Dropout> dropout_;
  nn::Activation activation_;
};

}  // namespace kiln::models
