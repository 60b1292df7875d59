// NFNets (Brock et al. 2021, "High-Performance Large-Scale Image Recognition
// Without Normalization", 2102.06171), as deepmind-research nfnets/nfnet.py:
//
//   stem: WSConv 3x3 (SAME) with the activation between convs, not after the
//         last (F-series: 16 s2, 32, 64, widths[0] / 2 s2)
//   body: stages of NFBlocks (nf_block.h); block i of the network gets
//         beta = 1 / expected_std and stochastic depth rate * i / num_blocks;
//         expected_std starts at 1, is reset to 1 after each stage's first
//         (transition) block, and grows as sqrt(std^2 + alpha^2) per block
//   head: final_conv WSConv 1x1 to final_conv_mult * widths[-1], act,
//         global average pool, dropout, linear "head" (weight N(0, 0.01^2),
//         bias 0)
//
// Parameter names: stem.conv{0..}, stages.{s}.blocks.{b}.{conv0, ...},
// final_conv, head (the final linear layer, as optim::nfnet_group_rules()
// expects).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "kiln/models/model.h"
#include "kiln/models/nfnet/nf_block.h"
#include "kiln/models/nfnet/nf_layers.h"

namespace kiln::models {

struct NFNetOptions {
  int64_t in_channels = 3;
  int64_t num_classes = 1000;
  // The stem convs' output channels and strides (all 3x3); the official
  // stem's last conv has widths[0] / 2 channels.
  std::vector<int64_t> stem_channels = {16, 32, 64, 128};
  std::vector<int64_t> stem_strides = {2, 1, 1, 2};
  // Per stage: output channels, blocks, stride of the first block.
  std::vector<int64_t> widths = {256, 512, 1536, 1536};
  std::vector<int64_t> depths = {1, 2, 6, 3};
  std::vector<int64_t> strides = {1, 2, 2, 2};
  double expansion = 0.5;
  int64_t group_width = 128;
  double se_ratio = 0.5;
  double alpha = 0.2;
  double stochdepth_rate = 0.1;  // the constructor's default; the recipe uses 0.25
  double dropout = 0.2;
  std::string activation = "gelu";
  double final_conv_mult = 2.0;
  bool use_two_convs = true;
  bool weight_standardization = true;
  // For small runs: every channel count (stem, stages, group width) is
  // multiplied by width_multiplier and every stage depth by
  // depth_multiplier, rounded to the nearest integer (at least 1). The
  // official `width` argument scales only the stage widths.
  double width_multiplier = 1.0;
  double depth_multiplier = 1.0;
};

// The published variants: "F0" to "F7" and "F0+" to "F7+" (widths
// [384, 768, 2048, 2048]), with the variant's dropout (base.nfnet_params).
NFNetOptions nfnet_variant(const std::string& name);
std::vector<std::string> nfnet_variant_names();

// The resolved architecture: multipliers applied, one NFBlockOptions per
// block with its beta, stochastic depth rate and channels.
struct NFNetPlan {
  std::vector<int64_t> stem_channels;
  std::vector<int64_t> stem_strides;
  std::vector<std::vector<NFBlockOptions>> stages;
  int64_t final_channels = 0;
};
// Throws kiln::Error naming the option for inconsistent options.
NFNetPlan nfnet_plan(const NFNetOptions& options);
// The parameter count of NFNet(options), without building it.
int64_t nfnet_num_parameters(const NFNetOptions& options);

// images (N, H, W, in_channels) -> logits (N, num_classes).
class NFNet : public Model {
 public:
  NFNet(const NFNetOptions& options, Generator& gen, std::shared_ptr<Generator> noise_gen);
  Tensor forward(const Tensor& images) override { return forward(images, nullptr); }
  // Appends one BlockSignal per block (in order) when `signals` is not null.
  Tensor forward(const Tensor& images, std::vector<BlockSignal>* signals);
  // The final feature grid before pooling (after the final conv and its
  // activation): images (N, H, W, in_channels) -> (N, h, w, final_channels).
  // Flamingo's vision encoder output.
  Tensor features(const Tensor& images, std::vector<BlockSignal>* signals = nullptr);
  const NFNetOptions& options() const { return options_; }
  const NFNetPlan& plan() const { return plan_; }
  const std::vector<std::shared_ptr<NFBlock>>& blocks() const { return blocks_; }

 private:
  NFNetOptions options_;
  NFNetPlan plan_;
  nn::Activation activation_;
  std::vector<std::shared_ptr<WSConv2d>> stem_;
  std::vector<std::shared_ptr<NFBlock>> blocks_;
  std::shared_ptr<WSConv2d> final_conv_;
  std::shared_ptr<nn::Dropout> dropout_;
  std::shared_ptr<nn::Linear> head_;
};

}  // namespace kiln::models
