// The basic layers. Weights follow kiln's layout (output units last):
// Linear (in, out), Conv2d (KH, KW, in / groups, out). Default initialisers
// are Haiku's: truncated normal with stddev 1 / sqrt(fan_in) for weights,
// zeros for biases.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "kiln/nn/module.h"
#include "kiln/ops/nn.h"
#include "kiln/tensor/generator.h"

namespace kiln::nn {

// Fills a freshly created parameter.
using Initializer = std::function<void(const Tensor& t, Generator& gen)>;

struct LinearOptions {
  int64_t in_features = 0;
  int64_t out_features = 0;
  bool bias = true;
  Initializer weight_init;  // default: truncated normal, stddev 1 / sqrt(in)
  Initializer bias_init;    // default: zeros
};

// x (..., in) -> (..., out).
class Linear : public UnaryModule {
 public:
  Linear(const LinearOptions& options, Generator& gen);
  Tensor forward(const Tensor& x) override;
  const Tensor& weight() const { return weight_; }
  const Tensor& bias() const { return bias_; }
  const LinearOptions& options() const { return options_; }

 private:
  LinearOptions options_;
  Tensor weight_;  // (in, out)
  Tensor bias_;    // (out) or undefined
};

struct Conv2dOptions {
  int64_t in_channels = 0;
  int64_t out_channels = 0;
  std::array<int64_t, 2> kernel = {3, 3};
  kiln::Conv2dOptions conv;  // stride, padding, dilation, groups
  bool bias = true;
  Initializer weight_init;  // default: truncated normal, stddev 1 / sqrt(fan_in)
  Initializer bias_init;
};

// x (N, H, W, C_in) -> (N, H', W', C_out).
class Conv2d : public UnaryModule {
 public:
  Conv2d(const Conv2dOptions& options, Generator& gen);
  Tensor forward(const Tensor& x) override;
  const Tensor& weight() const { return weight_; }
  const Tensor& bias() const { return bias_; }

 private:
  Conv2dOptions options_;
  Tensor weight_;  // (KH, KW, C_in / groups, C_out)
  Tensor bias_;
};

struct LayerNormOptions {
  int64_t size = 0;
  double eps = 1e-5;
  bool scale = true;   // learned gamma, init 1
  bool offset = true;  // learned beta, init 0
};

// Normalises the last dim: (..., D) -> (..., D).
class LayerNorm : public UnaryModule {
 public:
  explicit LayerNorm(const LayerNormOptions& options);
  Tensor forward(const Tensor& x) override;

 private:
  LayerNormOptions options_;
  Tensor gamma_;
  Tensor beta_;
};

struct BatchNormOptions {
  int64_t channels = 0;
  double eps = 1e-5;
  // running = (1 - momentum) * running + momentum * batch statistic
  // (PyTorch's convention; Haiku's decay is 1 - momentum).
  double momentum = 0.1;
  bool scale = true;   // learned gamma "scale", init scale_init
  bool offset = true;  // learned beta "offset", init 0
  double scale_init = 1.0;
  DType dtype = DType::kF32;  // of the parameters and buffers
};

// Batch norm over the last (channel) dim: x (N, ..., C) -> (N, ..., C).
// Training mode normalises with the batch's mean and population variance
// (gradients flow through them) and updates the buffers running_mean (C)
// and running_var (C, the batch's population variance, as Haiku and
// Sonnet; PyTorch keeps the unbiased one); eval mode uses
// the buffers. The buffers are part of state_dict(), hence of checkpoints.
class BatchNorm : public UnaryModule {
 public:
  explicit BatchNorm(const BatchNormOptions& options);
  Tensor forward(const Tensor& x) override;
  const Tensor& running_mean() const { return running_mean_; }
  const Tensor& running_var() const { return running_var_; }

 private:
  BatchNormOptions options_;
  Tensor gamma_, beta_;
  Tensor running_mean_, running_var_;
};

struct EmbeddingOptions {
  int64_t num_embeddings = 0;
  int64_t dim = 0;
  Initializer init;  // default: truncated normal, stddev 1 (Haiku's Embed)
};

// ids (...) integer -> (..., D).
class Embedding : public UnaryModule {
 public:
  Embedding(const EmbeddingOptions& options, Generator& gen);
  Tensor forward(const Tensor& ids) override;
  const Tensor& table() const { return table_; }

 private:
  EmbeddingOptions options_;
  Tensor table_;  // (V, D)
};

// Dropout with its own generator handle (shared with the model, whose state
// the trainer checkpoints).
class Dropout : public UnaryModule {
 public:
  Dropout(double rate, std::shared_ptr<Generator> gen);
  Tensor forward(const Tensor& x) override;

 private:
  double rate_;
  std::shared_ptr<Generator> gen_;
};

// Activation functions by name, for configs: "relu", "gelu" (tanh form),
// "gelu_exact", "silu", "tanh", "sigmoid", "identity", "leaky_relu",
// "softplus", "squared_relu".
using Activation = std::function<Tensor(const Tensor&)>;
Activation activation_by_name(const std::string& name);
bool is_activation_name(const std::string& name);

struct MlpOptions {
  int64_t in_features = 0;
  std::vector<int64_t> hidden = {};  // sizes of the hidden layers
  int64_t out_features = 0;
  std::string activation = "gelu";
  bool bias = true;
  Initializer weight_init;
};

// Linear layers with the activation between them (not after the last).
class Mlp : public UnaryModule {
 public:
  Mlp(const MlpOptions& options, Generator& gen);
  Tensor forward(const Tensor& x) override;

 private:
  std::vector<std::shared_ptr<Linear>> layers_;
  Activation activation_;
};

class Sequential : public UnaryModule {
 public:
  Sequential() = default;
  // Appends a layer named by its index ("0", "1", ...).
  template <class M>
  std::shared_ptr<M> add(std::shared_ptr<M> layer) {
    layers_.push_back(layer);
    return register_module(std::to_string(layers_.size() - 1), std::move(layer));
  }
  Tensor forward(const Tensor& x) override;
  size_t size() const { return layers_.size(); }

 private:
  std::vector<std::shared_ptr<UnaryModule>> layers_;
};

struct MultiHeadAttentionOptions {
  int64_t num_heads = 1;
  int64_t query_size = 0;   // width of the query input
  int64_t kv_size = 0;      // width of the key/value input (0: query_size)
  int64_t key_size = 0;     // per head (0: query_size / num_heads)
  int64_t value_size = 0;   // per head (0: key_size)
  int64_t output_size = 0;  // (0: query_size)
  bool bias = true;
  bool causal = false;
  Initializer weight_init;
};

// Self- or cross-attention with learned projections.
class MultiHeadAttention : public Module {
 public:
  MultiHeadAttention(const MultiHeadAttentionOptions& options, Generator& gen);
  // query (B, Tq, query_size), key_value (B, Tk, kv_size); bias broadcasts
  // to (B, H, Tq, Tk); key_padding_mask bool (B, Tk), true = attend.
  // -> (B, Tq, output_size).
  Tensor forward(const Tensor& query, const Tensor& key_value, const Tensor& bias = Tensor(),
                 const Tensor& key_padding_mask = Tensor());
  const MultiHeadAttentionOptions& options() const { return options_; }

 private:
  MultiHeadAttentionOptions options_;
  std::shared_ptr<Linear> q_proj_, k_proj_, v_proj_, out_proj_;
};

}  // namespace kiln::nn
