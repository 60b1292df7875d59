#include "kiln/models/flamingo/perceiver_resampler.h"

#include "kiln/ops/binary.h"
#include "kiln/ops/random.h"
#include "kiln/ops/shape.h"

namespace kiln::models {
namespace {

void validate(const PerceiverResamplerOptions& o) {
  KILN_CHECK(o.dim > 0 && o.num_latents > 0 && o.depth > 0 && o.heads > 0 && o.head_dim > 0 &&
                 o.ff_mult > 0 && o.max_frames > 0,
             "PerceiverResampler: dim ", o.dim, ", num_latents ", o.num_latents, ", depth ",
             o.depth, ", heads ", o.heads, ", head_dim ", o.head_dim, ", ff_mult ", o.ff_mult,
             " and max_frames ", o.max_frames, " must be positive");
  KILN_CHECK(nn::is_activation_name(o.activation), "PerceiverResampler: unknown activation '",
             o.activation, "'");
}

std::shared_ptr<nn::LayerNorm> layer_norm(int64_t size) {
  return std::make_shared<nn::LayerNorm>(nn::LayerNormOptions{.size = size});
}

}  // namespace

int64_t perceiver_resampler_num_parameters(const PerceiverResamplerOptions& o) {
  validate(o);
  const int64_t inner = o.heads * o.head_dim;
  const int64_t norms = 3 * 2 * o.dim;
  const int64_t attention = 4 * o.dim * inner;  // q, k, v, out; no biases
  const int64_t ff = 2 * o.dim * o.ff_mult * o.dim;
  return o.num_latents * o.dim + o.max_frames * o.dim + o.depth * (norms + attention + ff) +
         2 * o.dim;
}

PerceiverResamplerLayer::PerceiverResamplerLayer(const PerceiverResamplerOptions& o,
                                                 Generator& gen) {
  media_norm_ = register_module("media_norm", layer_norm(o.dim));
  latent_norm_ = register_module("latent_norm", layer_norm(o.dim));
  attention_ = register_module("attention", std::make_shared<nn::MultiHeadAttention>(
                                                nn::MultiHeadAttentionOptions{
                                                    .num_heads = o.heads,
                                                    .query_size = o.dim,
                                                    .key_size = o.head_dim,
                                                    .bias = false,
                                                },
                                                gen));
  ff_norm_ = register_module("ff_norm", layer_norm(o.dim));
  ff_ =
      register_module("ff", std::make_shared<nn::Mlp>(nn::MlpOptions{.in_features = o.dim,
                                                                     .hidden = {o.ff_mult * o.dim},
                                                                     .out_features = o.dim,
                                                                     .activation = o.activation,
                                                                     .bias = false},
                                                      gen));
}

Tensor PerceiverResamplerLayer::forward(const Tensor& media, const Tensor& latents) {
  const Tensor x = latent_norm_->forward(latents);
  // The latents attend to the media and to themselves.
  const Tensor kv = concat({media_norm_->forward(media), x}, 1);  // (B, M + R, d)
  const Tensor attended = add(latents, attention_->forward(x, kv));
  return add(attended, ff_->forward(ff_norm_->forward(attended)));
}

PerceiverResampler::PerceiverResampler(const PerceiverResamplerOptions& options, Generator& gen)
    : options_(options) {
  validate(options_);
  const PerceiverResamplerOptions& o = options_;
  latents_ = register_parameter("latents", normal({o.num_latents, o.dim}, 0, 1, gen));
  time_embeddings_ =
      register_parameter("time_embeddings", normal({o.max_frames, o.dim}, 0, 1, gen));
  auto layers = register_module("layers", std::make_shared<nn::ModuleList>());
  for (int64_t i = 0; i < o.depth; ++i) {
    layers_.push_back(layers->add(std::make_shared<PerceiverResamplerLayer>(o, gen)));
  }
  final_norm_ = register_module("final_norm", layer_norm(o.dim));
}

Tensor PerceiverResampler::forward(const Tensor& features) {
  const PerceiverResamplerOptions& o = options_;
  KILN_CHECK(features.dim() == 4 && features.size(3) == o.dim && features.size(1) >= 1 &&
                 features.size(1) <= o.max_frames,
             "PerceiverResampler: features must be (B, T, S, ", o.dim,
             ") with 1 <= T <= ", o.max_frames, ", got ", shape_str(features.shape()));
  const int64_t b = features.size(0), t = features.size(1), s = features.size(2);
  const Tensor time = unsqueeze(narrow(time_embeddings_, 0, 0, t), 1);  // (T, 1, d)
  const Tensor media = reshape(add(features, time), {b, t * s, o.dim});
  Tensor x = expand(unsqueeze(latents_, 0), {b, o.num_latents, o.dim});
  for (const auto& layer : layers_) x = layer->forward(media, x);
  return final_norm_->forward(x);
}

}  // namespace kiln::models
