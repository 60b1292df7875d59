#include "kiln/models/nfnet/nf_layers.h"
#include "kiln/autograd/grad_mode.h"
#include "kiln/ops/binary.h"
#include "kiln/ops/random.h"
#include "kiln/ops/reduce.h"
#include "kiln/ops/shape.h"
#include "kiln/ops/unary.h"

namespace kiln::models {

SqueezeExcite::SqueezeExcite(const SqueezeExciteOptions& options, Generator& gen) {
  KILN_CHECK(options.channels > 0 && options.ratio > 0,
             "SqueezeExcite: channels and ratio must be positive, got ", options.channels, " and ",
             options.ratio);
  hidden_ = std::max<int64_t>(
      1, static_cast<int64_t>(static_cast<double>(options.channels) * options.ratio));
  fc0_ = register_module(
      "fc0", std::make_shared<nn::Linear>(
                 nn::LinearOptions{.in_features = options.channels, .out_features = hidden_}, gen));
  fc1_ = register_module(
      "fc1", std::make_shared<nn::Linear>(
                 nn::LinearOptions{.in_features = hidden_, .out_features = options.channels}, gen));
}

Tensor SqueezeExcite::forward(const Tensor& x) {
  KILN_CHECK(x.dim() == 4, "SqueezeExcite: expects (N, H, W, C), got ", shape_str(x.shape()));
  const Tensor h = mean(x, {1, 2});  // (N, C)
  const Tensor gate = sigmoid(fc1_->forward(relu(fc0_->forward(h))));
  return reshape(gate, {x.size(0), 1, 1, x.size(3)});
}

StochasticDepth::StochasticDepth(double rate, std::shared_ptr<Generator> gen)
    : rate_(rate), gen_(std::move(gen)) {
  KILN_CHECK(rate >= 0 && rate < 1, "StochasticDepth: rate must be in [0, 1), got ", rate);
  KILN_CHECK(gen_ != nullptr || rate == 0, "StochasticDepth: a generator is needed for rate ",
             rate);
}

Tensor StochasticDepth::forward(const Tensor& x) {
  if (rate_ == 0 || !is_training()) return x;
  KILN_CHECK(x.dim() >= 1, "StochasticDepth: needs a batch dim, got ", shape_str(x.shape()));
  // One keep/drop draw per example: (N, 1, ..., 1).
  Shape mask_shape(x.dim(), 1);
  mask_shape[0] = x.size(0);
  return mul(x, bernoulli(mask_shape, 1.0 - rate_, *gen_, x.dtype()));
}

BlockSignal signal_metrics(const Tensor& x) {
  KILN_CHECK(x.dim() == 4, "signal_metrics: expects (N, H, W, C), got ", shape_str(x.shape()));
  NoGradGuard no_grad;
  BlockSignal s;
  s.avg_sq_mean = mean(square(mean(x, {0, 1, 2}))).item_as_double();
  s.avg_var = mean(var(x, {0, 1, 2})).item_as_double();
  return s;
}

}  // namespace kiln::models
