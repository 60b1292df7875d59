// Flamingo's Perceiver Resampler (2204.14198, the paper's pseudocode; the
// final LayerNorm as in lucidrains/flamingo-pytorch and open_flamingo):
// a fixed number R of visual tokens from a variable number of features.
//
//   x_f = features + time_embeddings[:T]          (B, T, S, d)
//   x_f = flatten(x_f)                            (B, T S, d)
//   x   = latents                                 (B, R, d)
//   per layer:  x = x + Attn(q = LN(x), kv = [LN(x_f); LN(x)])
//               x = x + FFW(x),  FFW = LN, Linear(d, m d), act, Linear(m d, d)
//   return LN(x)                                  (B, R, d)
//
// Unlike the Perceiver's cross-attention, the keys and values include the
// latents themselves. No spatial position encoding is added. Linears have
// no biases. Latents and time embeddings are N(0, 1) (the reimplementations'
// torch.randn); linears kiln's default (truncated normal 1 / sqrt(fan_in)).
//
// Parameter names: latents (R, d), time_embeddings (max_frames, d),
// layers.<i>.{media_norm,latent_norm,ff_norm}.{scale,offset},
// layers.<i>.attention.{query,key,value,output}.weight,
// layers.<i>.ff.{linear_0,linear_1}.weight, final_norm.{scale,offset}.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kiln/nn/layers.h"

namespace kiln::models {

struct PerceiverResamplerOptions {
  int64_t dim = 1536;  // width of the visual features and of the output tokens
  int64_t num_latents = 64;
  int64_t depth = 6;
  int64_t heads = 16;
  int64_t head_dim = 96;
  int64_t ff_mult = 4;
  std::string activation = "squared_relu";  // the paper's; the reimplementations use gelu
  int64_t max_frames = 8;                   // learned time embeddings
};

// The parameter count of PerceiverResampler(options), without building it.
int64_t perceiver_resampler_num_parameters(const PerceiverResamplerOptions& options);

class PerceiverResamplerLayer : public nn::Module {
 public:
  PerceiverResamplerLayer(const PerceiverResamplerOptions& options, Generator& gen);
  // media (B, M, d), latents (B, R, d) -> latents (B, R, d).
  Tensor forward(const Tensor& media, const Tensor& latents);

 private:
  std::shared_ptr<nn::LayerNorm> media_norm_, latent_norm_, ff_norm_;
  std::shared_ptr<nn::MultiHeadAttention> attention_;
  std::shared_ptr<nn::Mlp> ff_;
};

class PerceiverResampler : public nn::Module {
 public:
  PerceiverResampler(const PerceiverResamplerOptions& options, Generator& gen);
  // features (B, T, S, d), T <= max_frames -> visual tokens (B, R, d).
  Tensor forward(const Tensor& features);
  const PerceiverResamplerOptions& options() const { return options_; }

 private:
  PerceiverResamplerOptions options_;
  Tensor latents_;          // (R, d)
  Tensor time_embeddings_;  // (max_frames, d)
  std::vector<std::shared_ptr<PerceiverResamplerLayer>> layers_;
  std::shared_ptr<nn::LayerNorm> final_norm_;
};

}  // namespace kiln::models
