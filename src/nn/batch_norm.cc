#include <vector>

#include "kiln/autograd/grad_mode.h"
#include "kiln/nn/layers.h"
#include "kiln/ops/binary.h"
#include "kiln/ops/inplace.h"
#include "kiln/ops/reduce.h"
#include "kiln/ops/unary.h"

namespace kiln::nn {

BatchNorm::BatchNorm(const BatchNormOptions& options) : options_(options) {
  KILN_CHECK(options.channels > 0, "BatchNorm: channels must be positive, got ", options.channels);
  KILN_CHECK(options.momentum >= 0 && options.momentum <= 1, "BatchNorm: momentum ",
             options.momentum, " is outside [0, 1]");
  gamma_ = register_parameter("scale", ones({options.channels}, options.dtype));
  beta_ = register_parameter("offset", zeros({options.channels}, options.dtype));
  running_mean_ = register_buffer("mean", zeros({options.channels}, options.dtype));
  running_var_ = register_buffer("var", ones({options.channels}, options.dtype));
}

Tensor BatchNorm::forward(const Tensor& x) {
  KILN_CHECK(x.dim() >= 2 && x.size(-1) == options_.channels, "BatchNorm: input of shape ",
             shape_str(x.shape()), " does not end in channels ", options_.channels);
  if (!is_training()) {
    // (x - mean) * gamma / sqrt(var + eps) + beta, broadcast over (N, ...).
    const Tensor scale = mul(gamma_, rsqrt(add_scalar(running_var_, options_.eps)));
    return add(mul(sub(x, running_mean_), scale), beta_);
  }
  {
    NoGradGuard no_grad;
    std::vector<int64_t> dims;
    for (int64_t d = 0; d + 1 < x.dim(); ++d) dims.push_back(d);
    const Tensor xd = x.detach();
    const double m = options_.momentum;
    mul_(running_mean_, 1.0 - m);
    add_(running_mean_, mean(xd, dims), m);
    mul_(running_var_, 1.0 - m);
    add_(running_var_, var(xd, dims), m);
  }
  return batch_norm(x, gamma_, beta_, options_.eps);
}

}  // namespace kiln::nn
