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
  KILN_CHECK(options.momentum >= 0 && options.momentum <= 1 && options.eps >= 0,
             "BatchNorm: momentum must be in [0, 1] and eps >= 0, got ", options.momentum, " and ",
             options.eps);
  if (options.scale)
    gamma_ =
        register_parameter("scale", full({options.channels}, options.scale_init, options.dtype));
  if (options.offset)
    beta_ = register_parameter("offset", zeros({options.channels}, options.dtype));
  running_mean_ = register_buffer("running_mean", zeros({options.channels}, options.dtype));
  running_var_ = register_buffer("running_var", ones({options.channels}, options.dtype));
}

Tensor BatchNorm::forward(const Tensor& x) {
  KILN_CHECK(x.dim() >= 2 && x.size(-1) == options_.channels, "BatchNorm: expects (N, ..., ",
             options_.channels, "), got ", shape_str(x.shape()));
  if (is_training()) {
    Tensor y = batch_norm(x, gamma_, beta_, options_.eps);
    NoGradGuard no_grad;
    std::vector<int64_t> dims(static_cast<size_t>(x.dim() - 1));
    for (size_t i = 0; i < dims.size(); ++i) dims[i] = static_cast<int64_t>(i);
    const Tensor values = x.detach();
    // The population variance, as Haiku's and Sonnet's batch norm (the
    // papers' code) keep, so eval reproduces training on the same batch.
    const Tensor batch_var = var(values, dims, false, 0);  // (C)
    mul_(running_mean_, 1.0 - options_.momentum);
    add_(running_mean_, mean(values, dims), options_.momentum);
    mul_(running_var_, 1.0 - options_.momentum);
    add_(running_var_, batch_var, options_.momentum);
    return y;
  }
  // (x - running_mean) / sqrt(running_var + eps) * gamma + beta, broadcast over (N, ...).
  Tensor inv_std = rsqrt(add_scalar(running_var_, options_.eps));
  if (gamma_.defined()) inv_std = mul(inv_std, gamma_);
  Tensor y = mul(sub(x, running_mean_), inv_std);
  return beta_.defined() ? add(y, beta_) : y;
}

}  // namespace kiln::nn
