#include "kiln/models/flamingo/flamingo.h"

#include <map>
#include <optional>

#include "kiln/autograd/grad_mode.h"
#include "kiln/ops/binary.h"
#include "kiln/ops/cast.h"
#include "kiln/ops/linalg.h"
#include "kiln/ops/shape.h"

namespace kiln::models {
namespace {

GatedCrossAttentionOptions resolved_cross_attention(const FlamingoOptions& o) {
  GatedCrossAttentionOptions x = o.cross_attention;
  x.dim = o.lm.d_model;
  x.media_dim = o.resampler.dim;
  return x;
}

int64_t vision_channels(const FlamingoOptions& o) { return nfnet_plan(o.vision).final_channels; }

bool has_cross_attention(const FlamingoOptions& o, int64_t layer) {
  return (layer + 1) % o.cross_attention_every == 0;
}

void validate(const FlamingoOptions& o) {
  KILN_CHECK(o.cross_attention_every >= 1 && o.cross_attention_every <= o.lm.num_layers,
             "Flamingo: cross_attention_every ", o.cross_attention_every, " must be in [1, ",
             o.lm.num_layers, "] (the LM's layers)");
  for (int64_t id : {o.image_token_id, o.eoc_token_id}) {
    KILN_CHECK(id >= 0 && id < o.lm.vocab_size, "Flamingo: special token id ", id,
               " is outside the LM's vocabulary of ", o.lm.vocab_size);
  }
  KILN_CHECK(o.image_token_id != o.eoc_token_id, "Flamingo: <image> and <EOC> share the id ",
             o.image_token_id);
  KILN_CHECK(o.lm.causal, "Flamingo: the language model must be causal");
}

}  // namespace

FlamingoParameterCounts flamingo_num_parameters(const FlamingoOptions& o) {
  validate(o);
  FlamingoParameterCounts n;
  const int64_t channels = vision_channels(o);
  n.vision = nfnet_num_parameters(o.vision) - (channels + 1) * o.vision.num_classes;
  n.lm = transformer_num_parameters(o.lm);
  n.resampler = perceiver_resampler_num_parameters(o.resampler);
  if (channels != o.resampler.dim) n.resampler += channels * o.resampler.dim;  // media_projection
  for (int64_t l = 0; l < o.lm.num_layers; ++l) {
    if (has_cross_attention(o, l)) {
      n.cross_attention += gated_cross_attention_num_parameters(resolved_cross_attention(o));
    }
  }
  n.other = 2 * o.lm.d_model;  // special_embeddings
  return n;
}

std::vector<std::string> flamingo_preset_names() {
  return {"flamingo_3b", "flamingo_9b", "flamingo_80b"};
}

FlamingoOptions flamingo_preset(const std::string& name) {
  struct Size {
    int64_t layers, width, heads, every;
  };
  static const std::map<std::string, Size> kSizes = {
      {"flamingo_3b", {24, 2048, 16, 1}},
      {"flamingo_9b", {40, 4096, 32, 4}},
      {"flamingo_80b", {80, 8192, 64, 7}},
  };
  auto it = kSizes.find(name);
  KILN_CHECK(it != kSizes.end(), "flamingo_preset: unknown preset '", name,
             "' (flamingo_3b, flamingo_9b, flamingo_80b)");
  const Size& size = it->second;
  FlamingoOptions o;
  o.vision = nfnet_variant("F6");
  o.vision.num_classes = 1;  // the head is unused (and not counted)
  o.resampler = {.dim = 1536, .num_latents = 64, .depth = 6, .heads = 16, .head_dim = 128};
  o.lm.vocab_size = 32000;
  o.lm.max_len = 2048;
  o.lm.d_model = size.width;
  o.lm.num_layers = size.layers;
  o.lm.num_heads = size.heads;
  o.lm.mlp_hidden = 4 * size.width;
  o.lm.position = PositionEncoding::kRotary;
  o.lm.activation = "gelu";
  o.cross_attention = {.heads = size.heads, .head_dim = 128, .ff_mult = 4};
  o.cross_attention_every = size.every;
  o.image_token_id = 31998;
  o.eoc_token_id = 31999;
  return o;
}

Flamingo::Flamingo(const FlamingoOptions& options, Generator& gen,
                   std::shared_ptr<Generator> noise_gen)
    : options_(options) {
  validate(options_);
  const FlamingoOptions& o = options_;
  vision_ = register_module("vision", std::make_shared<NFNet>(o.vision, gen, noise_gen));
  if (o.freeze_vision) vision_->set_requires_grad(false);
  const int64_t channels = vision_channels(o);
  if (channels != o.resampler.dim) {
    media_projection_ = register_module(
        "media_projection",
        std::make_shared<nn::Linear>(
            nn::LinearOptions{
                .in_features = channels, .out_features = o.resampler.dim, .bias = false},
            gen));
  }
  resampler_ = register_module("resampler", std::make_shared<PerceiverResampler>(o.resampler, gen));
  lm_ = register_module("lm", std::make_shared<Transformer>(o.lm, gen, noise_gen));
  if (o.freeze_lm) lm_->set_requires_grad(false);
  auto list = register_module("cross_attention", std::make_shared<nn::ModuleList>());
  cross_attention_.resize(o.lm.num_layers);
  for (int64_t l = 0; l < o.lm.num_layers; ++l) {
    if (!has_cross_attention(o, l)) continue;
    cross_attention_[l] = list->add(
        std::to_string(l), std::make_shared<GatedCrossAttention>(resolved_cross_attention(o), gen));
  }
  special_embeddings_ = register_parameter("special_embeddings", zeros({2, o.lm.d_model}));
}

Tensor Flamingo::visual_tokens(const Tensor& images) {
  const FlamingoOptions& o = options_;
  KILN_CHECK(images.dim() == 5 || images.dim() == 6,
             "Flamingo: images must be (B, N, H, W, C) or video (B, N, T, H, W, C), got ",
             shape_str(images.shape()));
  const int64_t b = images.size(0), n = images.size(1);
  const int64_t t = images.dim() == 6 ? images.size(2) : 1;
  const int64_t h = images.size(-3), w = images.size(-2), c = images.size(-1);
  const Tensor frames = reshape(contiguous(images), {b * n * t, h, w, c});
  Tensor features;
  {
    // A frozen encoder gets no gradient and never trains (no dropout or
    // stochastic depth), whatever mode the model is in.
    std::optional<NoGradGuard> no_grad;
    if (o.freeze_vision) {
      no_grad.emplace();
      vision_->eval();
    }
    features = vision_->features(frames);  // (B N T, h', w', C_v)
  }
  const int64_t s = features.size(1) * features.size(2);
  features = reshape(features, {b * n, t, s, features.size(3)});
  if (media_projection_) features = media_projection_->forward(features);
  const Tensor tokens = resampler_->forward(features);  // (B N, R, d)
  return reshape(tokens, {b, n * o.resampler.num_latents, o.resampler.dim});
}

Tensor Flamingo::forward(const Tensor& tokens) {
  return forward_with_visual_tokens(tokens, Tensor());
}

Tensor Flamingo::forward(const Tensor& tokens, const Tensor& images) {
  KILN_CHECK(images.dim() >= 1 && images.size(0) == tokens.size(0), "Flamingo: images ",
             shape_str(images.shape()), " and tokens ", shape_str(tokens.shape()),
             " must have the same batch size");
  return forward_with_visual_tokens(tokens, visual_tokens(images));
}

Tensor Flamingo::forward_with_visual_tokens(const Tensor& tokens, const Tensor& visual) {
  const FlamingoOptions& o = options_;
  KILN_CHECK(tokens.dim() == 2, "Flamingo: tokens must be (B, L), got ", shape_str(tokens.shape()));
  const int64_t b = tokens.size(0), l = tokens.size(1), r = o.resampler.num_latents;
  int64_t num_images = 0;
  if (visual.defined()) {
    KILN_CHECK(visual.dim() == 3 && visual.size(0) == b && visual.size(1) % r == 0 &&
                   visual.size(2) == o.resampler.dim,
               "Flamingo: visual tokens must be (", b, ", N * ", r, ", ", o.resampler.dim,
               "), got ", shape_str(visual.shape()));
    num_images = visual.size(1) / r;
  }
  // Throws when the text names more images than were given.
  const Tensor media_bias = media_attention_bias(tokens, o.image_token_id, num_images, r);

  // One-hot of the special tokens (B L, 2): the trainable embedding correction.
  const Tensor ids = contiguous(to_dtype(tokens, DType::kI64));
  Tensor special = zeros({b * l, 2});
  for (int64_t i = 0; i < b * l; ++i) {
    const int64_t id = ids.data<int64_t>()[i];
    if (id == o.image_token_id) special.data<float>()[2 * i] = 1;
    if (id == o.eoc_token_id) special.data<float>()[2 * i + 1] = 1;
  }
  const Tensor correction = reshape(matmul(special, special_embeddings_), {b, l, o.lm.d_model});

  if (o.freeze_lm) lm_->eval();
  return lm_->forward(tokens, [&](int64_t layer, const Tensor& x) {
    Tensor y = layer == 0 ? add(x, correction) : x;
    if (layer < o.lm.num_layers && cross_attention_[layer]) {
      y = cross_attention_[layer]->forward(y, visual, media_bias);
    }
    return y;
  });
}

}  // namespace kiln::models
