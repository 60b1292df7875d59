#include <cmath>

#include "kiln/nn/init.h"
#include "kiln/nn/layers.h"

namespace kiln::nn {

Conv2d::Conv2d(const Conv2dOptions& options, Generator& gen) : options_(options) {
  const int64_t groups = options.conv.groups;
  KILN_CHECK(options.in_channels > 0 && options.out_channels > 0 && groups > 0 &&
                 options.in_channels % groups == 0 && options.out_channels % groups == 0,
             "Conv2d: channels ", options.in_channels, " -> ", options.out_channels,
             " do not divide into ", groups, " groups");
  Tensor w = Tensor::empty(
      {options.kernel[0], options.kernel[1], options.in_channels / groups, options.out_channels});
  if (options.weight_init) {
    options.weight_init(w, gen);
  } else {
    init::truncated_normal_(w, 0.0, 1.0 / std::sqrt(static_cast<double>(init::fan_in(w))), gen);
  }
  weight_ = register_parameter("weight", w);
  if (options.bias) {
    Tensor b = zeros({options.out_channels});
    if (options.bias_init) options.bias_init(b, gen);
    bias_ = register_parameter("bias", b);
  }
}

Tensor Conv2d::forward(const Tensor& x) { return conv2d(x, weight_, bias_, options_.conv); }

}  // namespace kiln::nn
