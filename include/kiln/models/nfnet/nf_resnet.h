// NF-ResNets (Brock et al. 2021, "Characterizing signal propagation to
// close the performance gap in unnormalized ResNets", 2101.08692), as
// deepmind-research nfnets/nf_resnet.py:
//
//   stem: WSConv 7x7 stride 2 (SAME, 16 * width = 64 channels), max pool 3x3
//         stride 2 (SAME); no activation (the first block applies it)
//   body: pre-activation bottleneck NFBlocks (ratio 0.25, ungrouped, one 3x3
//         conv, stride on the 3x3 and on the 1x1 shortcut conv, optional SE),
//         with the same beta / alpha bookkeeping and stochastic depth as NFNet
//   head: act, global average pool, dropout, linear "head" (N(0, 0.01^2))
//
// Parameter names: stem.conv0, stages.{s}.blocks.{b}.{conv0, ...}, head.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "kiln/models/model.h"
#include "kiln/models/nfnet/nf_block.h"
#include "kiln/models/nfnet/nf_layers.h"

namespace kiln::models {

struct NFResNetOptions {
  int64_t in_channels = 3;
  int64_t num_classes = 1000;
  int64_t stem_channels = 64;
  int64_t stem_kernel = 7;
  int64_t stem_stride = 2;
  bool stem_pool = true;  // max pool 3x3 stride 2 after the stem conv
  std::vector<int64_t> widths = {256, 512, 1024, 2048};
  std::vector<int64_t> depths = {3, 4, 6, 3};
  std::vector<int64_t> strides = {1, 2, 2, 2};
  double bottleneck_ratio = 0.25;
  double alpha = 0.2;
  double stochdepth_rate = 0.1;
  double dropout = 0.0;
  std::string activation = "relu";
  bool use_se = false;
  double se_ratio = 0.25;
  double skip_gain_init = 0.0;  // SkipInit (the official default, jnp.zeros)
  bool weight_standardization = true;
  // As NFNetOptions: scale every channel count / every stage depth.
  double width_multiplier = 1.0;
  double depth_multiplier = 1.0;
};

// "ResNet50", "ResNet101", "ResNet152", "ResNet200", "ResNet288",
// "ResNet600" (the official variant_dict depths).
NFResNetOptions nf_resnet_variant(const std::string& name);
std::vector<std::string> nf_resnet_variant_names();

struct NFResNetPlan {
  int64_t stem_channels = 0;
  std::vector<std::vector<NFBlockOptions>> stages;
};
NFResNetPlan nf_resnet_plan(const NFResNetOptions& options);
int64_t nf_resnet_num_parameters(const NFResNetOptions& options);

// images (N, H, W, in_channels) -> logits (N, num_classes).
class NFResNet : public Model {
 public:
  NFResNet(const NFResNetOptions& options, Generator& gen, std::shared_ptr<Generator> noise_gen);
  Tensor forward(const Tensor& images) override { return forward(images, nullptr); }
  Tensor forward(const Tensor& images, std::vector<BlockSignal>* signals);
  const NFResNetOptions& options() const { return options_; }
  const std::vector<std::shared_ptr<NFBlock>>& blocks() const { return blocks_; }

 private:
  NFResNetOptions options_;
  NFResNetPlan plan_;
  nn::Activation activation_;
  std::shared_ptr<WSConv2d> stem_;
  std::vector<std::shared_ptr<NFBlock>> blocks_;
  std::shared_ptr<nn::Dropout> dropout_;
  std::shared_ptr<nn::Linear> head_;
};

}  // namespace kiln::models
