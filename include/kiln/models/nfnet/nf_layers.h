// The building blocks of normalizer-free networks (deepmind-research
// nfnets/base.py): Scaled Weight Standardisation convolutions, activations
// scaled by their gamma constants, squeeze-excite and stochastic depth.
#pragma once

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "kiln/nn/layers.h"
#include "kiln/nn/module.h"
#include "kiln/tensor/generator.h"

namespace kiln::models {

struct WSConv2dOptions {
  int64_t in_channels = 0;
  int64_t out_channels = 0;
  std::array<int64_t, 2> kernel = {3, 3};
  std::array<int64_t, 2> stride = {1, 1};  // padding is always TensorFlow SAME
  int64_t groups = 1;
  // Floor of N * var inside the rsqrt (the official WSConv2D's eps).
  double eps = 1e-4;
  // false: a plain convolution with weight * gain (for signal-propagation
  // ablations); the parameters are the same.
  bool standardize = true;
};

// Convolution with Scaled Weight Standardisation, a per-output-channel gain
// and an always-present bias:
//   W_hat = gain * (W - mean(W)) / sqrt(max(N * var(W), eps)),
// mean and (population) variance over (KH, KW, C_in / groups) per output
// channel, N = KH * KW * C_in / groups. W_hat is recomputed from W on every
// forward pass in kiln ops, so gradients flow through the standardisation.
// Parameters: weight (KH, KW, C_in / groups, C_out) ~ N(0, 1 / N),
// gain (C_out) = 1, bias (C_out) = 0. x (N, H, W, C_in) -> (N, H', W', C_out).
class WSConv2d : public nn::UnaryModule {
 public:
  WSConv2d(const WSConv2dOptions& options, Generator& gen);
  Tensor forward(const Tensor& x) override;
  // The weight actually convolved with (differentiable w.r.t. weight, gain).
  Tensor standardized_weight() const;
  const Tensor& weight() const { return weight_; }
  const Tensor& gain() const { return gain_; }
  const Tensor& bias() const { return bias_; }
  const WSConv2dOptions& options() const { return options_; }

 private:
  WSConv2dOptions options_;
  Tensor weight_;
  Tensor gain_;
  Tensor bias_;
};

// The gamma constant of a nonlinearity: Var(g(z)) * gamma^2 = 1 for
// z ~ N(0, 1), the official code's empirical values (base.nonlinearities).
// Known names: "relu", "gelu" (tanh form), "silu", "leaky_relu" (slope 0.01),
// "tanh", "sigmoid", "softplus", "identity".
double nf_activation_gamma(const std::string& name);
bool is_nf_activation_name(const std::string& name);
// x -> g(x) * gamma_g.
nn::Activation nf_activation(const std::string& name);

struct SqueezeExciteOptions {
  int64_t channels = 0;
  double ratio = 0.5;  // hidden = max(1, int(channels * ratio))
};

// x (N, H, W, C) -> sigmoid(fc1(relu(fc0(mean_HW(x))))) of shape (N, 1, 1, C):
// the gate only (the block multiplies). Unscaled ReLU as in the official
// code; both linears have biases and Haiku's default initialisation.
class SqueezeExcite : public nn::UnaryModule {
 public:
  SqueezeExcite(const SqueezeExciteOptions& options, Generator& gen);
  Tensor forward(const Tensor& x) override;
  int64_t hidden() const { return hidden_; }

 private:
  int64_t hidden_;
  std::shared_ptr<nn::Linear> fc0_, fc1_;
};

// Per-sample stochastic depth as the official StochDepth: while training,
// each example of the batch keeps x with probability 1 - rate, else zeros;
// no 1 / keep rescaling. Identity in eval mode or at rate 0.
class StochasticDepth : public nn::UnaryModule {
 public:
  StochasticDepth(double rate, std::shared_ptr<Generator> gen);
  Tensor forward(const Tensor& x) override;
  double rate() const { return rate_; }

 private:
  double rate_;
  std::shared_ptr<Generator> gen_;
};

using nn::ModuleList;

// Signal-propagation statistics of a residual block's output at one forward
// pass (2101.08692, base.signal_metrics): the average over channels of the
// squared channel mean and of the channel variance (over N, H, W), and the
// average channel variance of the residual branch before stochastic depth
// and the skip gain.
struct BlockSignal {
  double avg_sq_mean = 0;
  double avg_var = 0;
  double residual_avg_var = 0;
};
// (avg_sq_mean, avg_var) of x (N, H, W, C); residual_avg_var left 0.
BlockSignal signal_metrics(const Tensor& x);

}  // namespace kiln::models
