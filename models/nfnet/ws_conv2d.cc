#include <cmath>

#include "kiln/models/nfnet/nf_layers.h"
#include "kiln/nn/init.h"
#include "kiln/ops/binary.h"
#include "kiln/ops/linalg.h"
#include "kiln/ops/nn.h"
#include "kiln/ops/reduce.h"
#include "kiln/ops/shape.h"
#include "kiln/ops/unary.h"

namespace kiln::models {

WSConv2d::WSConv2d(const WSConv2dOptions& options, Generator& gen) : options_(options) {
  const int64_t groups = options.groups;
  KILN_CHECK(options.in_channels > 0 && options.out_channels > 0 && groups > 0 &&
                 options.in_channels % groups == 0 && options.out_channels % groups == 0,
             "WSConv2d: channels ", options.in_channels, " -> ", options.out_channels,
             " do not divide into ", groups, " groups");
  KILN_CHECK(options.kernel[0] > 0 && options.kernel[1] > 0 && options.stride[0] > 0 &&
                 options.stride[1] > 0,
             "WSConv2d: kernel (", options.kernel[0], ", ", options.kernel[1], ") and stride (",
             options.stride[0], ", ", options.stride[1], ") must be positive");
  KILN_CHECK(options.eps > 0, "WSConv2d: eps must be positive, got ", options.eps);
  Tensor w = Tensor::empty(
      {options.kernel[0], options.kernel[1], options.in_channels / groups, options.out_channels});
  // Haiku VarianceScaling(1.0, "fan_in", "normal"), as the official WSConv2D.
  nn::init::variance_scaling_(w, 1.0, nn::init::FanMode::kFanIn, nn::init::Distribution::kNormal,
                              gen);
  weight_ = register_parameter("weight", w);
  gain_ = register_parameter("gain", ones({options.out_channels}));
  bias_ = register_parameter("bias", zeros({options.out_channels}));
}

Tensor WSConv2d::standardized_weight() const {
  if (!options_.standardize) return mul(weight_, gain_);
  // The official fused form: W * scale - mean * scale, with
  // scale = gain / sqrt(max(N * var, eps)); moments per output channel (1, 1, 1, C_out).
  const double fan_in = static_cast<double>(nn::init::fan_in(weight_));
  const Tensor m = mean(weight_, {0, 1, 2}, /*keepdim=*/true);
  const Tensor v = var(weight_, {0, 1, 2}, /*keepdim=*/true);
  const Tensor scale = mul(rsqrt(clamp(mul_scalar(v, fan_in), options_.eps)), gain_);
  return sub(mul(weight_, scale), mul(m, scale));
}

Tensor WSConv2d::forward(const Tensor& x) {
  KILN_CHECK(x.dim() == 4 && x.size(3) == options_.in_channels, "WSConv2d: expects (N, H, W, ",
             options_.in_channels, ") input, got ", shape_str(x.shape()));
  const Tensor w = standardized_weight();
  if (options_.kernel == std::array<int64_t, 2>{1, 1} && options_.stride[0] == 1 &&
      options_.stride[1] == 1 && options_.groups == 1) {
    // A 1x1 convolution is a matmul over the (N * H * W, C_in) rows. oneDNN's
    // jit_1x1 backward-weights kernel runs ~10x slower per FLOP than its
    // forward on the small images of CPU runs; the GEMM path does not.
    Shape out_shape = x.shape();
    out_shape.back() = options_.out_channels;
    const Tensor y = matmul(reshape(x, {-1, options_.in_channels}),
                            reshape(w, {options_.in_channels, options_.out_channels}));
    return reshape(add(y, bias_), out_shape);
  }
  kiln::Conv2dOptions conv;
  conv.stride = options_.stride;
  conv.padding_mode = PaddingMode::kSame;
  conv.groups = options_.groups;
  return conv2d(x, w, bias_, conv);
}

}  // namespace kiln::models
