// Flamingo's GATED XATTN-DENSE layer (2204.14198), inserted before a frozen
// language-model layer:
//
//   y = y + tanh(alpha_xattn) * XAttn(q = LN(y), kv = visual tokens)
//   y = y + tanh(alpha_dense) * FFW(y),  FFW = LN, Linear(D, m D), act,
//                                              Linear(m D, D)
//
// alpha_xattn and alpha_dense are scalars initialised to 0, so at
// initialisation the layer is the identity and the model is exactly the
// frozen LM. With gated = false (the paper's "w/o tanh gating" ablation)
// both branches are added ungated. Keys and values are projected from the
// visual width d to the attention width; no LayerNorm on the visual tokens
// (the resampler ends with one); linears without biases.
//
// Masking (media_attention_bias): text token l attends only to the R
// visual tokens of the last image at or before it (its own <image> token
// included); tokens before the first image attend to nothing and get an
// exactly zero cross-attention output.
//
// Parameter names: attention_gate (1), dense_gate (1), attention_norm.*,
// attention.{query,key,value,output}.weight, ff_norm.*,
// ff.{linear_0,linear_1}.weight.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "kiln/nn/layers.h"

namespace kiln::models {

struct GatedCrossAttentionOptions {
  int64_t dim = 2048;        // the language model's width D
  int64_t media_dim = 1536;  // the visual tokens' width d
  int64_t heads = 16;
  int64_t head_dim = 128;
  int64_t ff_mult = 4;
  std::string activation = "squared_relu";
  bool gated = true;
};

int64_t gated_cross_attention_num_parameters(const GatedCrossAttentionOptions& options);

// The additive attention bias for tokens (B, L) i32/i64 over the visual
// tokens of num_images images, R each: (B, 1, L, num_images * R), 0 where
// token l may attend (image j = number of image tokens in tokens[0..l]) and
// -inf elsewhere. Throws if a sequence holds more than num_images image
// tokens.
Tensor media_attention_bias(const Tensor& tokens, int64_t image_token_id, int64_t num_images,
                            int64_t tokens_per_image);

class GatedCrossAttention : public nn::Module {
 public:
  GatedCrossAttention(const GatedCrossAttentionOptions& options, Generator& gen);
  // y (B, L, D), media (B, N R, d), media_bias (B, 1, L, N R) -> (B, L, D).
  // Without media (undefined: text only) the cross-attention branch adds
  // nothing and only the dense branch applies.
  Tensor forward(const Tensor& y, const Tensor& media, const Tensor& media_bias);
  const GatedCrossAttentionOptions& options() const { return options_; }

 private:
  GatedCrossAttentionOptions options_;
  Tensor attention_gate_, dense_gate_;  // (1), tanh-gated
  std::shared_ptr<nn::LayerNorm> attention_norm_, ff_norm_;
  std::shared_ptr<nn::MultiHeadAttention> attention_;
  std::shared_ptr<nn::Mlp> ff_;
};

}  // namespace kiln::models
