#include "kiln/models/nfnet/nf_block.h"

#include "kiln/autograd/grad_mode.h"
#include "kiln/ops/binary.h"
#include "kiln/ops/nn.h"
#include "kiln/ops/reduce.h"

namespace kiln::models {
namespace {

int64_t ws_conv_params(int64_t in, int64_t out, int64_t kernel, int64_t groups) {
  return kernel * kernel * (in / groups) * out + 2 * out;  // weight, gain, bias
}

}  // namespace

NFBlockWidth nf_block_width(const NFBlockOptions& o) {
  const auto expanded = static_cast<int64_t>(static_cast<double>(o.out_channels) * o.expansion);
  NFBlockWidth w;
  if (o.group_width > 0) {
    w.groups = expanded / o.group_width;
    w.width = w.groups * o.group_width;
  } else {
    w.width = expanded;
  }
  KILN_CHECK(w.width > 0, "NFBlock: bottleneck width of ", o.out_channels, " channels * expansion ",
             o.expansion, " rounds to 0 with group width ", o.group_width);
  return w;
}

bool nf_block_has_projection(const NFBlockOptions& o) {
  return o.stride > 1 || o.in_channels != o.out_channels;
}

int64_t nf_block_num_parameters(const NFBlockOptions& o) {
  const NFBlockWidth w = nf_block_width(o);
  int64_t n = ws_conv_params(o.in_channels, w.width, 1, 1);
  n += ws_conv_params(w.width, w.width, o.kernel, w.groups);
  if (o.use_two_convs) n += ws_conv_params(w.width, w.width, o.kernel, w.groups);
  n += ws_conv_params(w.width, o.out_channels, 1, 1);
  if (nf_block_has_projection(o)) n += ws_conv_params(o.in_channels, o.out_channels, 1, 1);
  if (o.se_ratio > 0) {
    const int64_t hidden = std::max<int64_t>(
        1, static_cast<int64_t>(static_cast<double>(o.out_channels) * o.se_ratio));
    n += (o.out_channels + 1) * hidden + (hidden + 1) * o.out_channels;
  }
  return n + 1;  // skip_gain
}

NFBlock::NFBlock(const NFBlockOptions& options, Generator& gen,
                 std::shared_ptr<Generator> noise_gen)
    : options_(options), activation_(nf_activation(options.activation)) {
  KILN_CHECK(options.in_channels > 0 && options.out_channels > 0 && options.stride > 0 &&
                 options.kernel > 0,
             "NFBlock: channels ", options.in_channels, " -> ", options.out_channels, ", kernel ",
             options.kernel, " and stride ", options.stride, " must be positive");
  const NFBlockWidth w = nf_block_width(options);
  auto conv = [&](const std::string& name, int64_t in, int64_t out, int64_t kernel, int64_t stride,
                  int64_t groups) {
    return register_module(name, std::make_shared<WSConv2d>(
                                     WSConv2dOptions{.in_channels = in,
                                                     .out_channels = out,
                                                     .kernel = {kernel, kernel},
                                                     .stride = {stride, stride},
                                                     .groups = groups,
                                                     .standardize = options.weight_standardization},
                                     gen));
  };
  conv0_ = conv("conv0", options.in_channels, w.width, 1, 1, 1);
  conv1_ = conv("conv1", w.width, w.width, options.kernel, options.stride, w.groups);
  if (options.use_two_convs) {
    conv1b_ = conv("conv1b", w.width, w.width, options.kernel, 1, w.groups);
  }
  conv2_ = conv("conv2", w.width, options.out_channels, 1, 1, 1);
  if (nf_block_has_projection(options)) {
    // NFNet: average-pool first, then a 1x1 conv; NF-ResNet: a strided 1x1 conv.
    conv_shortcut_ = conv("conv_shortcut", options.in_channels, options.out_channels, 1,
                          options.avg_pool_shortcut ? 1 : options.stride, 1);
  }
  if (options.se_ratio > 0) {
    se_ = register_module(
        "se", std::make_shared<SqueezeExcite>(
                  SqueezeExciteOptions{.channels = options.out_channels, .ratio = options.se_ratio},
                  gen));
  }
  stochastic_depth_ = register_module(
      "stochastic_depth",
      std::make_shared<StochasticDepth>(options.stochdepth_rate, std::move(noise_gen)));
  skip_gain_ = register_parameter("skip_gain", full({}, options.skip_gain_init));
}

Tensor NFBlock::forward(const Tensor& x, BlockSignal* signal) {
  KILN_CHECK(x.dim() == 4 && x.size(3) == options_.in_channels, "NFBlock: expects (N, H, W, ",
             options_.in_channels, ") input, got ", shape_str(x.shape()));
  const Tensor out = mul_scalar(activation_(x), options_.beta);
  Tensor shortcut = x;
  if (options_.avg_pool_shortcut && options_.stride > 1) {
    shortcut = avg_pool2d(out, {.kernel = {options_.stride, options_.stride},
                                .stride = {options_.stride, options_.stride},
                                .padding_mode = PaddingMode::kSame});
    if (conv_shortcut_) shortcut = conv_shortcut_->forward(shortcut);
  } else if (conv_shortcut_) {
    shortcut = conv_shortcut_->forward(out);
  }
  Tensor h = conv0_->forward(out);
  h = conv1_->forward(activation_(h));
  if (conv1b_) h = conv1b_->forward(activation_(h));
  h = conv2_->forward(activation_(h));
  if (se_) h = mul(mul_scalar(se_->forward(h), 2.0), h);  // x2 undoes sigmoid(0) = 0.5
  if (signal != nullptr) {
    NoGradGuard no_grad;
    signal->residual_avg_var = mean(var(h, {0, 1, 2})).item_as_double();
  }
  h = stochastic_depth_->forward(h);
  Tensor y = add(mul_scalar(mul(h, skip_gain_), options_.alpha), shortcut);
  if (signal != nullptr) {
    const BlockSignal s = signal_metrics(y);
    signal->avg_sq_mean = s.avg_sq_mean;
    signal->avg_var = s.avg_var;
  }
  return y;
}

}  // namespace kiln::models
