#include "kiln/models/transformer/transformer.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "kiln/nn/init.h"
#include "kiln/ops/binary.h"
#include "kiln/ops/cast.h"
#include "kiln/ops/linalg.h"
#include "kiln/ops/reduce.h"
#include "kiln/ops/shape.h"
#include "kiln/ops/unary.h"

namespace kiln::models {
namespace {

using nn::ModuleList;

void suo_init(const Tensor& w, Generator& gen) { scaled_uniform_orthogonal_(w, gen); }

void zero_init(const Tensor& w, Generator& /*gen*/) { nn::init::zeros_(w); }

nn::Initializer embedding_init(double stddev) {
  // A truncated normal's stddev is 0.8796 of its scale parameter.
  return [stddev](const Tensor& t, Generator& gen) {
    nn::init::truncated_normal_(t, 0.0, stddev / 0.87962566103423978, gen);
  };
}

nn::Activation make_activation(const TransformerOptions& o, double* tat_slope) {
  if (o.activation == "tat_leaky_relu") {
    const double slope = tat::leaky_relu_negative_slope(o.num_layers, o.tat_eta);
    const double scale = tat::leaky_relu_output_scale(slope);
    *tat_slope = slope;
    return [slope, scale](const Tensor& x) { return mul_scalar(leaky_relu(x, slope), scale); };
  }
  KILN_CHECK(nn::is_activation_name(o.activation), "Transformer: unknown activation '",
             o.activation, "'");
  return nn::activation_by_name(o.activation);
}

void check_options(const TransformerOptions& o) {
  KILN_CHECK(o.vocab_size > 0 && o.max_len > 0 && o.d_model > 0 && o.num_layers > 0 &&
                 o.num_heads > 0 && o.mlp_hidden > 0,
             "Transformer: vocab_size, max_len, d_model, num_layers, num_heads and mlp_hidden "
             "must be positive");
  KILN_CHECK(o.d_model % o.num_heads == 0, "Transformer: d_model ", o.d_model,
             " is not divisible by num_heads ", o.num_heads);
  KILN_CHECK(o.position != PositionEncoding::kRotary || (o.d_model / o.num_heads) % 2 == 0,
             "Transformer: rotary embeddings need an even head dim, got ", o.d_model / o.num_heads);
  KILN_CHECK(o.attention_bias == AttentionBias::kNone || o.causal,
             "Transformer: E-SPA / U-SPA attention is built from lower-triangular Cholesky "
             "factors and needs causal attention");
  KILN_CHECK(o.dropout >= 0 && o.dropout < 1, "Transformer: dropout must be in [0, 1), got ",
             o.dropout);
  KILN_CHECK(o.embedding_std > 0, "Transformer: embedding_std must be positive");
  KILN_CHECK(o.moe.num_experts == 0 || o.moe.every >= 1, "Transformer: moe.every must be >= 1");
}

}  // namespace

std::pair<Tensor, Tensor> rotary_tables(int64_t t, int64_t head_dim, double base) {
  KILN_CHECK(head_dim % 2 == 0 && head_dim > 0 && t >= 0 && base > 0,
             "rotary_tables: needs an even positive head dim (got ", head_dim,
             "), t >= 0 and base > 0");
  const int64_t half = head_dim / 2;
  std::vector<double> cos_values(static_cast<size_t>(t * half));
  std::vector<double> sin_values(static_cast<size_t>(t * half));
  for (int64_t p = 0; p < t; ++p) {
    for (int64_t j = 0; j < half; ++j) {
      const double inv_freq =
          std::pow(base, -2.0 * static_cast<double>(j) / static_cast<double>(head_dim));
      const double angle = static_cast<double>(p) * inv_freq;
      cos_values[p * half + j] = std::cos(angle);
      sin_values[p * half + j] = std::sin(angle);
    }
  }
  return {from_vector(cos_values, {t, half}), from_vector(sin_values, {t, half})};
}

Tensor apply_rotary(const Tensor& x, const Tensor& cos, const Tensor& sin) {
  KILN_CHECK(x.dim() == 4 && x.size(3) % 2 == 0 && cos.dim() == 2 && cos.size(0) == x.size(2) &&
                 cos.size(1) * 2 == x.size(3) && sin.shape() == cos.shape(),
             "apply_rotary: x (B, H, T, Dh) ", shape_str(x.shape()),
             " needs cos and sin (T, Dh/2), got ", shape_str(cos.shape()), " and ",
             shape_str(sin.shape()));
  const int64_t half = x.size(3) / 2;
  const Tensor c = to_dtype(cos, x.dtype()), s = to_dtype(sin, x.dtype());
  const Tensor x1 = slice(x, 3, 0, half), x2 = slice(x, 3, half, 2 * half);
  return concat({sub(mul(x1, c), mul(x2, s)), add(mul(x2, c), mul(x1, s))}, 3);
}

TransformerAttention::TransformerAttention(const TransformerOptions& options,
                                           const spa::SpaBias* spa, Generator& gen)
    : options_(options), head_dim_(options.d_model / options.num_heads) {
  const int64_t d = options.d_model;
  const bool orthogonal = options.init == WeightInit::kOrthogonal;
  auto linear = [&](const char* name, nn::Initializer init) {
    return register_module(
        name, std::make_shared<nn::Linear>(nn::LinearOptions{.in_features = d,
                                                             .out_features = d,
                                                             .bias = options.bias,
                                                             .weight_init = std::move(init)},
                                           gen));
  };
  query_ = linear("query", options.zero_init_queries ? nn::Initializer(zero_init) : nullptr);
  key_ = linear("key", nullptr);
  value_ = linear("value", orthogonal ? nn::Initializer(suo_init) : nullptr);
  output_ = linear("output", orthogonal ? nn::Initializer(suo_init) : nullptr);
  if (options.value_skipinit) {
    alpha_ = register_parameter("alpha", ones({1}));
    beta_ = register_parameter("beta", zeros({1}));
  }
  if (spa != nullptr) {
    const int64_t t = spa->bias.size(0);
    spa_bias_ = reshape(spa->bias, {1, 1, t, t});
    spa_scale_ = reshape(spa->scale, {t, 1});
  }
}

Tensor TransformerAttention::forward(const Tensor& x, const Tensor& cos, const Tensor& sin) {
  KILN_CHECK(x.dim() == 3 && x.size(2) == options_.d_model, "TransformerAttention: x ",
             shape_str(x.shape()), " must be (B, T, ", options_.d_model, ")");
  const int64_t b = x.size(0), t = x.size(1), h = options_.num_heads;
  // (B, T, D) -> (B, H, T, Dh) views.
  auto heads = [&](const Tensor& y) { return transpose(reshape(y, {b, t, h, head_dim_}), 1, 2); };
  Tensor q = heads(query_->forward(x));
  Tensor k = heads(key_->forward(x));
  const Tensor v_flat = value_->forward(x);  // (B, T, D)
  const Tensor v = heads(v_flat);
  if (cos.defined()) {
    const Tensor c = narrow(cos, 0, 0, t), s = narrow(sin, 0, 0, t);
    q = apply_rotary(q, c, s);
    k = apply_rotary(k, c, s);
  }
  Tensor bias;
  if (spa_bias_.defined()) {
    KILN_CHECK(t <= spa_bias_.size(2), "TransformerAttention: sequence length ", t,
               " exceeds the SPA matrices' ", spa_bias_.size(2));
    // The Cholesky construction is prefix-consistent: the top-left (t, t)
    // block is the construction for length t.
    bias = to_dtype(narrow(narrow(spa_bias_, 2, 0, t), 3, 0, t), x.dtype());
  }
  const Tensor attended = attention(q, k, v, bias, Tensor(), {.causal = options_.causal});
  // (B, H, T, Dh) stored as (B, T, H, Dh): a view as (B, T, D).
  Tensor mixed = reshape(transpose(attended, 1, 2), {b, t, options_.d_model});
  if (spa_scale_.defined()) mixed = mul(mixed, to_dtype(narrow(spa_scale_, 0, 0, t), x.dtype()));
  if (alpha_.defined()) {
    // Value-SkipInit: (alpha I + beta A(X)) X W_V.
    mixed = add(mul(v_flat, to_dtype(alpha_, x.dtype())), mul(mixed, to_dtype(beta_, x.dtype())));
  }
  return output_->forward(mixed);
}

FeedForward::FeedForward(const TransformerOptions& options, nn::Activation activation,
                         Generator& gen)
    : activation_(std::move(activation)) {
  const bool orthogonal = options.init == WeightInit::kOrthogonal;
  auto linear = [&](const char* name, int64_t in, int64_t out) {
    return register_module(
        name,
        std::make_shared<nn::Linear>(
            nn::LinearOptions{.in_features = in,
                              .out_features = out,
                              .bias = options.bias,
                              .weight_init = orthogonal ? nn::Initializer(suo_init) : nullptr},
            gen));
  };
  fc1_ = linear("fc1", options.d_model, options.mlp_hidden);
  fc2_ = linear("fc2", options.mlp_hidden, options.d_model);
}

Tensor FeedForward::forward(const Tensor& x) {
  return fc2_->forward(activation_(fc1_->forward(x)));
}

TransformerBlock::TransformerBlock(const TransformerOptions& options, int64_t index,
                                   const spa::SpaBias* spa, nn::Activation activation,
                                   std::shared_ptr<Generator> dropout_gen, Generator& gen)
    : options_(options) {
  const int64_t d = options.d_model;
  if (options.layer_norm)
    ln1_ = register_module("ln1", std::make_shared<nn::LayerNorm>(nn::LayerNormOptions{.size = d}));
  attention_ =
      register_module("attention", std::make_shared<TransformerAttention>(options, spa, gen));
  if (options.layer_norm)
    ln2_ = register_module("ln2", std::make_shared<nn::LayerNorm>(nn::LayerNormOptions{.size = d}));
  const MoeOptions& m = options.moe;
  if (m.num_experts > 0 && (index + 1) % m.every == 0) {
    MoeMlpOptions mo{.d_model = d, .hidden = options.mlp_hidden, .bias = options.bias, .moe = m};
    if (options.init == WeightInit::kOrthogonal) mo.expert_init = suo_init;
    moe_ = register_module("moe", std::make_shared<MoeMlp>(mo, std::move(activation), gen));
  } else {
    mlp_ =
        register_module("mlp", std::make_shared<FeedForward>(options, std::move(activation), gen));
  }
  if (options.dropout > 0) {
    dropout_ = register_module(
        "dropout", std::make_shared<nn::Dropout>(options.dropout, std::move(dropout_gen)));
  }
}

Tensor TransformerBlock::forward(const Tensor& x, const Tensor& cos, const Tensor& sin) {
  auto branch_out = [&](Tensor y) { return dropout_ ? dropout_->forward(y) : y; };
  Tensor h = ln1_ ? ln1_->forward(x) : x;
  Tensor a = branch_out(attention_->forward(h, cos, sin));
  Tensor y = options_.skip ? add(x, a) : a;
  h = ln2_ ? ln2_->forward(y) : y;
  Tensor m = branch_out(moe_ ? moe_->forward(h) : mlp_->forward(h));
  return options_.skip ? add(y, m) : m;
}

Transformer::Transformer(const TransformerOptions& options, Generator& gen,
                         std::shared_ptr<Generator> dropout_gen)
    : options_(options) {
  const TransformerOptions& o = options_;
  check_options(o);
  const nn::Activation activation = make_activation(o, &tat_slope_);

  token_embedding_ = register_module(
      "token_embedding",
      std::make_shared<nn::Embedding>(nn::EmbeddingOptions{.num_embeddings = o.vocab_size,
                                                           .dim = o.d_model,
                                                           .init = embedding_init(o.embedding_std)},
                                      gen));
  if (o.position == PositionEncoding::kLearned) {
    position_embedding_ = register_module(
        "position_embedding", std::make_shared<nn::Embedding>(
                                  nn::EmbeddingOptions{.num_embeddings = o.max_len,
                                                       .dim = o.d_model,
                                                       .init = embedding_init(o.embedding_std)},
                                  gen));
  }
  if (o.position == PositionEncoding::kRotary) {
    std::tie(rope_cos_, rope_sin_) = rotary_tables(o.max_len, o.d_model / o.num_heads, o.rope_base);
  }

  // The fixed attention matrices, one per block: Sigma_l -> Sigma_{l+1}.
  if (o.attention_bias == AttentionBias::kExponential) {
    const std::vector<double> g =
        o.spa_schedule == SpaSchedule::kLogDet
            ? spa::espa_gammas_log_det(o.num_layers, o.espa_gamma_end)
            : spa::espa_gammas(o.num_layers, o.espa_gamma_start, o.espa_gamma_end);
    for (int64_t l = 0; l < o.num_layers; ++l)
      spa_.push_back(spa::espa_bias(o.max_len, g[l], g[l + 1]));
  } else if (o.attention_bias == AttentionBias::kUniform) {
    const std::vector<double> r =
        o.spa_schedule == SpaSchedule::kLogDet
            ? spa::uspa_rhos_log_det(o.num_layers, o.uspa_rho_end)
            : spa::uspa_rhos(o.num_layers, o.uspa_rho_start, o.uspa_rho_end);
    for (int64_t l = 0; l < o.num_layers; ++l) {
      spa_.push_back(spa::spa_bias_from_matrix(
          spa::uspa_attention_matrix(o.max_len, r[l], r[l + 1]), o.max_len));
    }
  }

  auto list = std::make_shared<ModuleList>();
  block_list_ = register_module("blocks", list);
  for (int64_t l = 0; l < o.num_layers; ++l) {
    blocks_.push_back(list->add(std::make_shared<TransformerBlock>(
        o, l, spa_.empty() ? nullptr : &spa_[l], activation, dropout_gen, gen)));
  }
  if (o.final_norm) {
    final_norm_ = register_module(
        "final_norm", std::make_shared<nn::LayerNorm>(nn::LayerNormOptions{.size = o.d_model}));
  }
  if (!o.tied_embeddings) {
    unembed_ = register_module(
        "unembed", std::make_shared<nn::Linear>(
                       nn::LinearOptions{
                           .in_features = o.d_model, .out_features = o.vocab_size, .bias = o.bias},
                       gen));
  }
  if (o.dropout > 0) {
    dropout_ = register_module("dropout", std::make_shared<nn::Dropout>(o.dropout, dropout_gen));
  }
}

int64_t transformer_num_parameters(const TransformerOptions& o) {
  KILN_CHECK(o.moe.num_experts == 0,
             "transformer_num_parameters: counts dense models only (moe.num_experts = ",
             o.moe.num_experts, ")");
  const int64_t d = o.d_model, h = o.mlp_hidden, bias = o.bias ? 1 : 0;
  const int64_t norms = o.layer_norm ? 2 * 2 * d : 0;
  const int64_t attention = 4 * (d * d + bias * d) + (o.value_skipinit ? 2 : 0);
  const int64_t mlp = d * h + bias * h + h * d + bias * d;
  int64_t n = o.vocab_size * d + o.num_layers * (norms + attention + mlp);
  if (o.position == PositionEncoding::kLearned) n += o.max_len * d;
  if (o.final_norm) n += 2 * d;
  if (!o.tied_embeddings) n += d * o.vocab_size + bias * o.vocab_size;
  return n;
}

Tensor Transformer::forward(const Tensor& tokens) { return forward(tokens, nullptr); }

Tensor Transformer::forward(const Tensor& tokens, std::vector<Tensor>* hidden) {
  if (hidden == nullptr) return forward(tokens, BlockHook());
  return forward(tokens, [hidden](int64_t, const Tensor& x) {
    hidden->push_back(x);
    return x;
  });
}

Tensor Transformer::forward(const Tensor& tokens, const BlockHook& before_block) {
  const TransformerOptions& o = options_;
  KILN_CHECK(tokens.dim() == 2 && (tokens.dtype() == DType::kI64 || tokens.dtype() == DType::kI32),
             "Transformer: tokens must be (B, T) i32 or i64, got ", dtype_name(tokens.dtype()), " ",
             shape_str(tokens.shape()));
  const int64_t b = tokens.size(0), t = tokens.size(1);
  KILN_CHECK(t >= 1 && t <= o.max_len, "Transformer: sequence length ", t,
             " must be in [1, max_len = ", o.max_len, "]");
  Tensor x = token_embedding_->forward(tokens);  // (B, T, D)
  if (position_embedding_) x = add(x, narrow(position_embedding_->table(), 0, 0, t));
  if (dropout_) x = dropout_->forward(x);
  for (size_t i = 0; i < blocks_.size(); ++i) {
    if (before_block) x = before_block(static_cast<int64_t>(i), x);
    x = blocks_[i]->forward(x, rope_cos_, rope_sin_);
  }
  if (before_block) x = before_block(static_cast<int64_t>(blocks_.size()), x);
  if (final_norm_) x = final_norm_->forward(x);
  const Tensor flat = reshape(x, {b * t, o.d_model});
  const Tensor logits =
      unembed_ ? unembed_->forward(flat) : matmul(flat, transpose(token_embedding_->table(), 0, 1));
  return reshape(logits, {b, t, o.vocab_size});
}

std::vector<MoeMlp*> Transformer::moe_layers() const {
  std::vector<MoeMlp*> layers;
  for (const auto& block : blocks_) {
    if (block->moe() != nullptr) layers.push_back(block->moe());
  }
  return layers;
}

Tensor Transformer::aux_loss() const {
  Tensor total;
  for (MoeMlp* moe : moe_layers()) {
    if (!moe->aux_loss().defined()) continue;
    total = total.defined() ? add(total, moe->aux_loss()) : moe->aux_loss();
  }
  return total;
}

std::map<std::string, double> Transformer::metrics() const {
  std::map<std::string, double> m;
  const std::vector<MoeMlp*> layers = moe_layers();
  if (layers.empty() || layers[0]->stats().tokens == 0) return m;
  double balance = 0, z = 0, dropped = 0, dropped_tokens = 0, max_share = 0;
  for (size_t i = 0; i < blocks_.size(); ++i) {
    const MoeMlp* moe = blocks_[i]->moe();
    if (moe == nullptr) continue;
    const MoeStats& s = moe->stats();
    balance += s.load_balance_loss;
    z += s.z_loss;
    dropped += s.dropped_choice_fraction;
    dropped_tokens += s.dropped_token_fraction;
    for (size_t e = 0; e < s.share.size(); ++e) {
      m[absl::StrCat("moe_block", i, "_expert", e, "_share")] = s.share[e];
      max_share = std::max(max_share, s.share[e]);
    }
  }
  const double n = static_cast<double>(layers.size());
  m["moe_load_balance_loss"] = balance / n;
  m["moe_z_loss"] = z / n;
  m["moe_dropped_fraction"] = dropped / n;
  m["moe_dropped_token_fraction"] = dropped_tokens / n;
  m["moe_max_share"] = max_share;
  return m;
}

TransformerOptions transformer_preset(const std::string& name) {
  TransformerOptions o;
  if (name == "gpt_small") {
    // benchmarks.md B2: byte vocabulary, T 256, 6 x 512, 8 heads, MLP 2048
    // GELU (tanh), pre-LN, learned positions, final LN, untied, no dropout.
    o.vocab_size = 256;
    o.max_len = 256;
    o.d_model = 512;
    o.num_layers = 6;
    o.num_heads = 8;
    o.mlp_hidden = 2048;
    o.activation = "gelu";
    return o;
  }
  KILN_FAIL("transformer_preset: unknown preset '", name, "' (known: gpt_small)");
}

}  // namespace kiln::models
