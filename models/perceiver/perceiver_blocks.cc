// The Perceiver's attention blocks and encoder (official CrossAttention,
// SelfAttention and PerceiverEncoder).
#include "kiln/models/perceiver/perceiver.h"
#include "kiln/ops/binary.h"
#include "kiln/ops/cast.h"
#include "kiln/ops/shape.h"
#include "perceiver_util.h"

namespace kiln::models {

PerceiverCrossAttention::PerceiverCrossAttention(const PerceiverAttentionShape& shape,
                                                 int64_t widening, bool query_residual,
                                                 double dropout,
                                                 std::shared_ptr<Generator> dropout_gen,
                                                 Generator& gen)
    : query_residual_(query_residual) {
  const int64_t qk = shape.qk_channels > 0 ? shape.qk_channels : shape.kv_channels;
  const int64_t v = shape.v_channels > 0 ? shape.v_channels : qk;
  KILN_CHECK(shape.heads > 0 && shape.q_channels > 0 && shape.kv_channels > 0 && widening > 0,
             "PerceiverCrossAttention: heads ", shape.heads, ", query channels ", shape.q_channels,
             ", key/value channels ", shape.kv_channels, " and widening ", widening,
             " must be positive");
  KILN_CHECK(qk % shape.heads == 0 && v % shape.heads == 0, "PerceiverCrossAttention: qk channels ",
             qk, " and v channels ", v, " must be divisible by the ", shape.heads, " heads");
  const int64_t q = shape.q_channels;
  query_norm_ = register_module("query_norm",
                                std::make_shared<nn::LayerNorm>(nn::LayerNormOptions{.size = q}));
  kv_norm_ = register_module(
      "kv_norm", std::make_shared<nn::LayerNorm>(nn::LayerNormOptions{.size = shape.kv_channels}));
  attention_ = register_module(
      "attention", std::make_shared<nn::MultiHeadAttention>(
                       nn::MultiHeadAttentionOptions{.num_heads = shape.heads,
                                                     .query_size = q,
                                                     .kv_size = shape.kv_channels,
                                                     .key_size = qk / shape.heads,
                                                     .value_size = v / shape.heads,
                                                     .output_size = q,
                                                     .weight_init = perceiver::dense_init()},
                       gen));
  mlp_norm_ =
      register_module("mlp_norm", std::make_shared<nn::LayerNorm>(nn::LayerNormOptions{.size = q}));
  mlp_ = register_module("mlp", perceiver::make_mlp(q, widening, gen));
  if (dropout > 0) dropout_ = std::make_shared<nn::Dropout>(dropout, std::move(dropout_gen));
}

Tensor PerceiverCrossAttention::forward(const Tensor& query, const Tensor& kv,
                                        const Tensor& kv_mask, const Tensor& query_mask) {
  Tensor a =
      attention_->forward(query_norm_->forward(query), kv_norm_->forward(kv), Tensor(), kv_mask);
  if (query_mask.defined()) {
    // Masked queries attend to nothing: their rows are zero (official wipe).
    a = mul(a, unsqueeze(to_dtype(query_mask, a.dtype()), -1));
  }
  if (dropout_) a = dropout_->forward(a);
  Tensor x = query_residual_ ? add(query, a) : a;
  Tensor m = mlp_->forward(mlp_norm_->forward(x));
  if (dropout_) m = dropout_->forward(m);
  return add(x, m);
}

PerceiverSelfAttention::PerceiverSelfAttention(int64_t channels, int64_t heads, int64_t qk_channels,
                                               int64_t v_channels, int64_t widening, double dropout,
                                               std::shared_ptr<Generator> dropout_gen,
                                               Generator& gen) {
  const int64_t qk = qk_channels > 0 ? qk_channels : channels;
  const int64_t v = v_channels > 0 ? v_channels : qk;
  KILN_CHECK(channels > 0 && heads > 0 && widening > 0, "PerceiverSelfAttention: channels ",
             channels, ", heads ", heads, " and widening ", widening, " must be positive");
  KILN_CHECK(qk % heads == 0 && v % heads == 0, "PerceiverSelfAttention: qk channels ", qk,
             " and v channels ", v, " must be divisible by the ", heads, " heads");
  attention_norm_ = register_module(
      "attention_norm", std::make_shared<nn::LayerNorm>(nn::LayerNormOptions{.size = channels}));
  // The residual needs the output at the latent width (the official code
  // outputs v channels, so it requires v == channels; here v may differ).
  attention_ = register_module(
      "attention", std::make_shared<nn::MultiHeadAttention>(
                       nn::MultiHeadAttentionOptions{.num_heads = heads,
                                                     .query_size = channels,
                                                     .kv_size = channels,
                                                     .key_size = qk / heads,
                                                     .value_size = v / heads,
                                                     .output_size = channels,
                                                     .weight_init = perceiver::dense_init()},
                       gen));
  mlp_norm_ = register_module(
      "mlp_norm", std::make_shared<nn::LayerNorm>(nn::LayerNormOptions{.size = channels}));
  mlp_ = register_module("mlp", perceiver::make_mlp(channels, widening, gen));
  if (dropout > 0) dropout_ = std::make_shared<nn::Dropout>(dropout, std::move(dropout_gen));
}

Tensor PerceiverSelfAttention::forward(const Tensor& x) {
  const Tensor normed = attention_norm_->forward(x);
  Tensor a = attention_->forward(normed, normed);
  if (dropout_) a = dropout_->forward(a);
  Tensor h = add(x, a);
  Tensor m = mlp_->forward(mlp_norm_->forward(h));
  if (dropout_) m = dropout_->forward(m);
  return add(h, m);
}

PerceiverEncoder::PerceiverEncoder(const PerceiverOptions& options, int64_t input_channels,
                                   std::shared_ptr<Generator> dropout_gen, Generator& gen)
    : options_(options) {
  const PerceiverOptions& o = options_;
  latents_ =
      register_module("latents", std::make_shared<TrainablePositionEncoding>(
                                     o.num_latents, o.latent_channels, o.latent_init_scale, gen));
  auto cross_list = register_module("cross_attends", std::make_shared<perceiver::ModuleList>());
  const int64_t cross_modules =
      o.share_cross_attends ? std::min<int64_t>(o.num_cross_attends, 2) : o.num_cross_attends;
  for (int64_t i = 0; i < cross_modules; ++i) {
    cross_attends_.push_back(cross_list->add(std::make_shared<PerceiverCrossAttention>(
        PerceiverAttentionShape{.heads = o.cross_attend_heads,
                                .q_channels = o.latent_channels,
                                .kv_channels = input_channels,
                                .qk_channels = o.cross_attend_qk_channels,
                                .v_channels = o.cross_attend_v_channels},
        o.cross_attend_widening, o.encoder_query_residual, o.dropout, dropout_gen, gen)));
  }
  auto block_list = register_module("blocks", std::make_shared<perceiver::ModuleList>());
  const int64_t rows = o.share_blocks ? 1 : o.num_blocks;
  for (int64_t b = 0; b < rows; ++b) {
    auto row = block_list->add(std::make_shared<perceiver::ModuleList>());
    blocks_.emplace_back();
    for (int64_t j = 0; j < o.num_self_attends_per_block; ++j) {
      blocks_.back().push_back(row->add(std::make_shared<PerceiverSelfAttention>(
          o.latent_channels, o.self_attend_heads, o.self_attend_qk_channels,
          o.self_attend_v_channels, o.self_attend_widening, o.dropout, dropout_gen, gen)));
    }
  }
}

int64_t PerceiverEncoder::num_self_attend_modules() const {
  int64_t n = 0;
  for (const auto& row : blocks_) n += static_cast<int64_t>(row.size());
  return n;
}

Tensor PerceiverEncoder::forward(const Tensor& inputs, const Tensor& input_mask) {
  KILN_CHECK(inputs.dim() == 3, "PerceiverEncoder: inputs must be (B, M, C), got ",
             shape_str(inputs.shape()));
  Tensor z = latents_->forward(inputs.size(0));  // (B, N, D)
  for (int64_t b = 0; b < options_.num_blocks; ++b) {
    if (b < options_.num_cross_attends) {
      const size_t module = options_.share_cross_attends ? std::min<size_t>(b, 1) : b;
      z = cross_attends_[module]->forward(z, inputs, input_mask);
    }
    for (const auto& layer : blocks_[options_.share_blocks ? 0 : b]) z = layer->forward(z);
  }
  return z;
}

}  // namespace kiln::models
