#include "kiln/models/slowfast_nfnet/bn_block.h"

#include "kiln/ops/binary.h"
#include "kiln/ops/nn.h"
#include "kiln/ops/unary.h"

namespace kiln::models {

ConvBN::ConvBN(const ConvBNOptions& o, Generator& gen) {
  conv_ = register_module(
      "conv",
      std::make_shared<nn::Conv2d>(
          nn::Conv2dOptions{
              .in_channels = o.in_channels,
              .out_channels = o.out_channels,
              .kernel = o.kernel,
              .conv = {.stride = o.stride, .padding_mode = PaddingMode::kSame, .groups = o.groups},
              .bias = false},
          gen));
  bn_ = register_module("bn", std::make_shared<nn::BatchNorm>(nn::BatchNormOptions{
                                  .channels = o.out_channels, .scale_init = o.bn_scale_init}));
}

Tensor ConvBN::forward(const Tensor& x) { return bn_->forward(conv_->forward(x)); }

BNBlock::BNBlock(const NFBlockOptions& options, Generator& gen)
    : options_(options), activation_(nn::activation_by_name(options.activation)) {
  KILN_CHECK(options.in_channels > 0 && options.out_channels > 0 && options.stride > 0 &&
                 options.kernel > 0,
             "BNBlock: channels ", options.in_channels, " -> ", options.out_channels, ", kernel ",
             options.kernel, " and stride ", options.stride, " must be positive");
  const NFBlockWidth w = nf_block_width(options);
  auto unit = [&](const std::string& name, int64_t in, int64_t out, int64_t kernel, int64_t stride,
                  int64_t groups, double scale_init = 1.0) {
    return register_module(name,
                           std::make_shared<ConvBN>(ConvBNOptions{.in_channels = in,
                                                                  .out_channels = out,
                                                                  .kernel = {kernel, kernel},
                                                                  .stride = {stride, stride},
                                                                  .groups = groups,
                                                                  .bn_scale_init = scale_init},
                                                    gen));
  };
  conv0_ = unit("conv0", options.in_channels, w.width, 1, 1, 1);
  conv1_ = unit("conv1", w.width, w.width, options.kernel, options.stride, w.groups);
  if (options.use_two_convs)
    conv1b_ = unit("conv1b", w.width, w.width, options.kernel, 1, w.groups);
  conv2_ = unit("conv2", w.width, options.out_channels, 1, 1, 1, options.skip_gain_init);
  if (nf_block_has_projection(options)) {
    conv_shortcut_ = unit("conv_shortcut", options.in_channels, options.out_channels, 1,
                          options.avg_pool_shortcut ? 1 : options.stride, 1);
  }
  if (options.se_ratio > 0) {
    se_ = register_module(
        "se", std::make_shared<SqueezeExcite>(
                  SqueezeExciteOptions{.channels = options.out_channels, .ratio = options.se_ratio},
                  gen));
  }
}

Tensor BNBlock::forward(const Tensor& x) {
  KILN_CHECK(x.dim() == 4 && x.size(3) == options_.in_channels, "BNBlock: expects (N, H, W, ",
             options_.in_channels, ") input, got ", shape_str(x.shape()));
  Tensor shortcut = x;
  if (options_.avg_pool_shortcut && options_.stride > 1) {
    shortcut = avg_pool2d(x, {.kernel = {options_.stride, options_.stride},
                              .stride = {options_.stride, options_.stride},
                              .padding_mode = PaddingMode::kSame});
    if (conv_shortcut_) shortcut = conv_shortcut_->forward(shortcut);
  } else if (conv_shortcut_) {
    shortcut = conv_shortcut_->forward(x);
  }
  Tensor h = activation_(conv0_->forward(x));  // (N, H, W, width)
  h = activation_(conv1_->forward(h));         // (N, H', W', width)
  if (conv1b_) h = activation_(conv1b_->forward(h));
  h = conv2_->forward(h);  // (N, H', W', out)
  if (se_) h = mul(mul_scalar(se_->forward(h), 2.0), h);
  return activation_(add(h, shortcut));
}

}  // namespace kiln::models
