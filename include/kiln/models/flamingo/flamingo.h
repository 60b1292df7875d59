// Flamingo (2204.14198): a frozen vision encoder and a frozen language model
// bridged by a trainable Perceiver Resampler and GATED XATTN-DENSE layers.
//
//   images (B, N, H, W, C) or video (B, N, T, H, W, C)
//   features  = vision.features(frame)   frozen NFNet, no gradient  (B N, T, S, C_v)
//   features  = media_projection(features) when C_v != d            (B N, T, S, d)
//   visual    = resampler(features)                                  (B, N R, d)
//   y = lm.embed(tokens) + special_embeddings[<image>, <EOC>]        (B, L, D)
//   before LM layer i with (i + 1) % cross_attention_every == 0:
//     y = GatedCrossAttention_i(y, visual, media_attention_bias(tokens))
//   logits = lm.head(y)                                              (B, L, V)
//
// Frozen means: requires_grad off (so the optimizer never sees them) and
// always in eval mode (no dropout or stochastic depth), whatever train()
// says. The LM's token embeddings are frozen too; the <image> and <EOC>
// tokens get a trainable additive correction initialised to 0 (the paper
// trains only the new tokens' embeddings). With the gates at 0 and that
// correction at 0, the logits at initialisation equal the frozen LM's
// exactly.
//
// Parameter names: vision.* (NFNet; its classification head is unused),
// media_projection.weight (when present), resampler.*, lm.* (Transformer),
// cross_attention.<i>.* (i = the LM layer it precedes), special_embeddings
// (2, D): rows for <image> and <EOC>.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kiln/models/flamingo/gated_cross_attention.h"
#include "kiln/models/flamingo/perceiver_resampler.h"
#include "kiln/models/model.h"
#include "kiln/models/nfnet/nfnet.h"
#include "kiln/models/transformer/transformer.h"

namespace kiln::models {

struct FlamingoOptions {
  NFNetOptions vision;
  PerceiverResamplerOptions resampler;
  TransformerOptions lm;
  GatedCrossAttentionOptions cross_attention;  // dim and media_dim follow lm and resampler
  int64_t cross_attention_every = 1;
  int64_t image_token_id = 0;  // ids in the LM's vocabulary
  int64_t eoc_token_id = 1;
  bool freeze_vision = true;
  bool freeze_lm = true;
};

// Parameter counts by part (the paper's appendix split), without building
// the model. vision excludes the NFNet's classification head.
struct FlamingoParameterCounts {
  int64_t vision = 0, lm = 0, resampler = 0, cross_attention = 0, other = 0;
  int64_t total() const { return vision + lm + resampler + cross_attention + other; }
};
FlamingoParameterCounts flamingo_num_parameters(const FlamingoOptions& options);

// The paper's model sizes (appendix): "flamingo_3b", "flamingo_9b",
// "flamingo_80b": an NFNet-F6 vision encoder on 288 x 288 images, the
// resampler (6 layers, width 1536, 16 heads of 128, 64 latents, squared
// ReLU), a Chinchilla-style LM (rotary positions stand in for its relative
// ones; 32,000 tokens) and GATED XATTN-DENSE layers of the LM's width every
// 1 / 4 / 7 layers. The per-part sizes in papers.md are from memory; the
// parameter counts these give are compared with them in
// docs/reproductions/flamingo.md.
FlamingoOptions flamingo_preset(const std::string& name);
std::vector<std::string> flamingo_preset_names();

class Flamingo : public Model {
 public:
  Flamingo(const FlamingoOptions& options, Generator& gen, std::shared_ptr<Generator> noise_gen);

  // Text only: tokens (B, L) -> logits (B, L, V); no <image> token allowed.
  Tensor forward(const Tensor& tokens) override;
  // tokens (B, L) with one <image> token per image; images (B, N, H, W, C)
  // or video (B, N, T, H, W, C) -> logits (B, L, V).
  Tensor forward(const Tensor& tokens, const Tensor& images);
  // The resampled visual tokens of images (as above): (B, N R, d). Computed
  // once, they can serve many text prompts (few-shot scoring).
  Tensor visual_tokens(const Tensor& images);
  // tokens (B, L), visual (B, N R, d) from visual_tokens -> logits (B, L, V).
  Tensor forward_with_visual_tokens(const Tensor& tokens, const Tensor& visual);

  const FlamingoOptions& options() const { return options_; }
  Transformer& language_model() { return *lm_; }
  NFNet& vision_encoder() { return *vision_; }

 private:
  FlamingoOptions options_;
  std::shared_ptr<NFNet> vision_;
  std::shared_ptr<nn::Linear> media_projection_;
  std::shared_ptr<PerceiverResampler> resampler_;
  std::shared_ptr<Transformer> lm_;
  std::vector<std::shared_ptr<GatedCrossAttention>>
      cross_attention_;        // by LM layer; null where none
  Tensor special_embeddings_;  // (2, D)
};

}  // namespace kiln::models
