#include "kiln/models/flamingo/gated_cross_attention.h"

#include <algorithm>
#include <limits>

#include "kiln/ops/binary.h"
#include "kiln/ops/cast.h"
#include "kiln/ops/shape.h"
#include "kiln/ops/unary.h"

namespace kiln::models {
namespace {

void validate(const GatedCrossAttentionOptions& o) {
  KILN_CHECK(o.dim > 0 && o.media_dim > 0 && o.heads > 0 && o.head_dim > 0 && o.ff_mult > 0,
             "GatedCrossAttention: dim ", o.dim, ", media_dim ", o.media_dim, ", heads ", o.heads,
             ", head_dim ", o.head_dim, " and ff_mult ", o.ff_mult, " must be positive");
  KILN_CHECK(nn::is_activation_name(o.activation), "GatedCrossAttention: unknown activation '",
             o.activation, "'");
}

}  // namespace

int64_t gated_cross_attention_num_parameters(const GatedCrossAttentionOptions& o) {
  validate(o);
  const int64_t inner = o.heads * o.head_dim;
  const int64_t attention = o.dim * inner + 2 * o.media_dim * inner + inner * o.dim;
  const int64_t ff = 2 * o.dim * o.ff_mult * o.dim;
  return 2 + 2 * 2 * o.dim + attention + ff;
}

Tensor media_attention_bias(const Tensor& tokens, int64_t image_token_id, int64_t num_images,
                            int64_t tokens_per_image) {
  KILN_CHECK(tokens.dim() == 2 && (tokens.dtype() == DType::kI64 || tokens.dtype() == DType::kI32),
             "media_attention_bias: tokens must be (B, L) i32 or i64, got ",
             dtype_name(tokens.dtype()), " ", shape_str(tokens.shape()));
  KILN_CHECK(num_images >= 0 && tokens_per_image > 0, "media_attention_bias: num_images ",
             num_images, " and tokens_per_image ", tokens_per_image, " must be >= 0 and > 0");
  const Tensor ids = contiguous(to_dtype(tokens, DType::kI64));
  const int64_t b = ids.size(0), l = ids.size(1), m = num_images * tokens_per_image;
  Tensor bias = full({b, 1, l, m}, -std::numeric_limits<double>::infinity());
  const int64_t* id = ids.data<int64_t>();
  float* out = bias.data<float>();
  for (int64_t i = 0; i < b; ++i) {
    int64_t image = 0;  // images seen so far, this token's included
    for (int64_t t = 0; t < l; ++t) {
      if (id[i * l + t] == image_token_id) ++image;
      KILN_CHECK(image <= num_images, "media_attention_bias: sequence ", i, " has more than ",
                 num_images, " image tokens (id ", image_token_id, ")");
      if (image == 0) continue;
      float* row = out + (i * l + t) * m + (image - 1) * tokens_per_image;
      std::fill(row, row + tokens_per_image, 0.0f);
    }
  }
  return bias;
}

GatedCrossAttention::GatedCrossAttention(const GatedCrossAttentionOptions& options, Generator& gen)
    : options_(options) {
  validate(options_);
  const GatedCrossAttentionOptions& o = options_;
  attention_gate_ = register_parameter("attention_gate", zeros({1}));
  dense_gate_ = register_parameter("dense_gate", zeros({1}));
  attention_norm_ = register_module(
      "attention_norm", std::make_shared<nn::LayerNorm>(nn::LayerNormOptions{.size = o.dim}));
  attention_ = register_module("attention", std::make_shared<nn::MultiHeadAttention>(
                                                nn::MultiHeadAttentionOptions{
                                                    .num_heads = o.heads,
                                                    .query_size = o.dim,
                                                    .kv_size = o.media_dim,
                                                    .key_size = o.head_dim,
                                                    .bias = false,
                                                },
                                                gen));
  ff_norm_ = register_module("ff_norm",
                             std::make_shared<nn::LayerNorm>(nn::LayerNormOptions{.size = o.dim}));
  ff_ =
      register_module("ff", std::make_shared<nn::Mlp>(nn::MlpOptions{.in_features = o.dim,
                                                                     .hidden = {o.ff_mult * o.dim},
                                                                     .out_features = o.dim,
                                                                     .activation = o.activation,
                                                                     .bias = false},
                                                      gen));
}

Tensor GatedCrossAttention::forward(const Tensor& y, const Tensor& media,
                                    const Tensor& media_bias) {
  Tensor x = y;
  if (media.defined()) {
    // Rows that see no visual token come out of the attention as exact zeros.
    Tensor a = attention_->forward(attention_norm_->forward(y), media, media_bias);
    if (options_.gated) a = mul(tanh(attention_gate_), a);
    x = add(y, a);
  }
  Tensor f = ff_->forward(ff_norm_->forward(x));
  if (options_.gated) f = mul(tanh(dense_gate_), f);
  return add(x, f);
}

}  // namespace kiln::models
