// The normalizer-free residual block shared by NFNets (2102.06171,
// nfnets/nfnet.py NFBlock) and NF-ResNets (2101.08692, nfnets/nf_resnet.py
// NFResBlock):
//
//   out = act(x) * beta
//   shortcut = x                                     same shape
//            | conv_shortcut(avg_pool_2x2_SAME(out))  NFNet, stride > 1
//            | conv_shortcut(out)                     channel change, or
//                                                     NF-ResNet (strided 1x1)
//   h = conv0 1x1(out); h = conv1 3x3 grouped, stride(act(h));
//   [h = conv1b 3x3 grouped(act(h))]; h = conv2 1x1(act(h))
//   [h = 2 * se(h) * h]
//   return stochastic_depth(h) * skip_gain * alpha + shortcut
//
// Every conv is a WSConv2d. Parameter names: conv0, conv1, conv1b, conv2,
// conv_shortcut, se.fc0, se.fc1 and the scalar skip_gain.
#pragma once

#include <memory>
#include <string>

#include "kiln/models/nfnet/nf_layers.h"

namespace kiln::models {

struct NFBlockOptions {
  int64_t in_channels = 0;
  int64_t out_channels = 0;
  // Bottleneck width from out_channels: with group_width > 0,
  // group_width * (int(out * expansion) // group_width) channels in groups of
  // group_width; with group_width 0, int(out * expansion) ungrouped.
  double expansion = 0.5;
  int64_t group_width = 128;
  int64_t kernel = 3;
  int64_t stride = 1;
  double beta = 1.0;      // 1 / expected std of the block input
  double alpha = 0.2;     // residual branch scale
  double se_ratio = 0.5;  // 0: no squeeze-excite
  double stochdepth_rate = 0.0;
  std::string activation = "gelu";
  bool use_two_convs = true;      // conv1b (NFNet)
  bool avg_pool_shortcut = true;  // NFNet; false: strided 1x1 conv (NF-ResNet)
  double skip_gain_init = 0.0;    // SkipInit
  bool weight_standardization = true;
};

// The bottleneck width and group count NFBlockOptions imply; throws
// kiln::Error if the width rounds to zero.
struct NFBlockWidth {
  int64_t width = 0;
  int64_t groups = 1;
};
NFBlockWidth nf_block_width(const NFBlockOptions& options);
// Whether the block has conv_shortcut.
bool nf_block_has_projection(const NFBlockOptions& options);
// The block's parameter count, without building it.
int64_t nf_block_num_parameters(const NFBlockOptions& options);

// x (N, H, W, in) -> (N, H / stride, W / stride, out) (SAME rounding up).
class NFBlock : public nn::UnaryModule {
 public:
  NFBlock(const NFBlockOptions& options, Generator& gen, std::shared_ptr<Generator> noise_gen);
  Tensor forward(const Tensor& x) override { return forward(x, nullptr); }
  // Records the block's signal statistics into `signal` when not null.
  Tensor forward(const Tensor& x, BlockSignal* signal);
  const NFBlockOptions& options() const { return options_; }
  const Tensor& skip_gain() const { return skip_gain_; }

 private:
  NFBlockOptions options_;
  nn::Activation activation_;
  std::shared_ptr<WSConv2d> conv0_, conv1_, conv1b_, conv2_, conv_shortcut_;
  std::shared_ptr<SqueezeExcite> se_;
  std::shared_ptr<StochasticDepth> stochastic_depth_;
  Tensor skip_gain_;  // scalar, shape ()
};

}  // namespace kiln::models
