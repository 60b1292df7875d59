// The BatchNorm counterparts of the normalizer-free layers, for the HARES
// normalisation comparison (2111.12124: Slowfast with BatchNorm vs
// normalizer-free): plain convolutions followed by nn::BatchNorm and
// unscaled activations, in the usual post-activation ResNet order.
#pragma once

#include <array>
#include <memory>

#include "kiln/models/nfnet/nf_block.h"
#include "kiln/nn/layers.h"

namespace kiln::models {

struct ConvBNOptions {
  int64_t in_channels = 0;
  int64_t out_channels = 0;
  std::array<int64_t, 2> kernel = {3, 3};
  std::array<int64_t, 2> stride = {1, 1};  // padding is TensorFlow SAME
  int64_t groups = 1;
  double bn_scale_init = 1.0;
};

// x (N, H, W, in) -> bn(conv(x)) (N, H', W', out); the conv has no bias
// (the BatchNorm offset replaces it). Parameter names: conv.weight,
// bn.scale, bn.offset; buffers bn.running_mean, bn.running_var.
class ConvBN : public nn::UnaryModule {
 public:
  ConvBN(const ConvBNOptions& options, Generator& gen);
  Tensor forward(const Tensor& x) override;

 private:
  std::shared_ptr<nn::Conv2d> conv_;
  std::shared_ptr<nn::BatchNorm> bn_;
};

// The NFBlock bottleneck (same widths, groups, strides, optional conv1b and
// squeeze-excite, average-pool projection shortcut) with BatchNorm after
// every conv and no signal-propagation scaling (alpha, beta and skip_gain
// are unused):
//   h = act(bn0(conv0 1x1(x))); h = act(bn1(conv1 3x3 grouped, stride(h)))
//   [h = act(bn1b(conv1b(h)))]; h = bn2(conv2 1x1(h)); [h = 2 * se(h) * h]
//   shortcut = x | bn(conv 1x1(avg_pool(x))) | bn(conv 1x1(x))
//   return act(h + shortcut)
// bn2's scale starts at options.skip_gain_init (0: "zero-init the last BN",
// the BatchNorm analogue of SkipInit). act is the unscaled activation.
// x (N, H, W, in) -> (N, H / stride, W / stride, out).
class BNBlock : public nn::UnaryModule {
 public:
  BNBlock(const NFBlockOptions& options, Generator& gen);
  Tensor forward(const Tensor& x) override;

 private:
  NFBlockOptions options_;
  nn::Activation activation_;
  std::shared_ptr<ConvBN> conv0_, conv1_, conv1b_, conv2_, conv_shortcut_;
  std::shared_ptr<SqueezeExcite> se_;
};

}  // namespace kiln::models
