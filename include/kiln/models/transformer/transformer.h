// Transformer language models: a decoder-only LM (causal) and its encoder
// variant (no mask), with the deep vanilla transformer switches of
// "Deep Transformers without Shortcuts" (2302.10322) and a sparse
// mixture-of-experts MLP, all on one model so ablations are config overrides.
//
//   x = token_embedding(ids) [+ position_embedding]            (B, T, D)
//   per block:  skip:  x = x + attn(ln1(x));  x = x + mlp(ln2(x))
//               none:  x = attn(ln1(x));      x = mlp(ln2(x))
//   (ln1 / ln2 are identities with layer_norm = false)
//   logits = unembed(final_norm(x))                             (B, T, V)
//
// Attention: q, k, v, output projections; optional rotary embeddings on q
// and k; the causal mask; an E-SPA / U-SPA fixed bias (shared by the heads)
// with the per-position output scale s_i; Value-SkipInit replaces the
// attention matrix A(X) by alpha I + beta A(X) with trainable scalars
// alpha = 1, beta = 0 at init. The attention op is the memory-efficient one.
//
// Parameter names: token_embedding.embeddings (V, D),
// position_embedding.embeddings (T_max, D), blocks.<i>.ln1.{scale,offset},
// blocks.<i>.attention.{query,key,value,output}.{weight,bias},
// blocks.<i>.attention.{alpha,beta} (Value-SkipInit), blocks.<i>.ln2.*,
// blocks.<i>.mlp.{fc1,fc2}.{weight,bias} or blocks.<i>.moe.* (moe.h),
// final_norm.{scale,offset}, unembed.{weight,bias} (absent when tied: the
// logits are x E^T).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "kiln/models/model.h"
#include "kiln/models/transformer/moe.h"
#include "kiln/models/transformer/signal_propagation.h"
#include "kiln/nn/layers.h"

namespace kiln::models {

enum class PositionEncoding { kLearned, kRotary, kNone };
enum class AttentionBias { kNone, kExponential /* E-SPA */, kUniform /* U-SPA */ };
enum class SpaSchedule { kLogDet, kInterpolate };
enum class WeightInit {
  kStandard,    // Haiku defaults: truncated normal 1 / sqrt(fan_in), zero biases
  kOrthogonal,  // dks SUO for the value, output and MLP weights (TAT / E-SPA)
};

struct TransformerOptions {
  int64_t vocab_size = 256;
  int64_t max_len = 256;  // longest sequence (the learned position table, SPA matrices)
  int64_t d_model = 256;
  int64_t num_layers = 4;
  int64_t num_heads = 4;
  int64_t mlp_hidden = 1024;
  // nn::activation_by_name names, or "tat_leaky_relu": TAT's leaky ReLU with
  // the slope that makes the num_layers MLP activations, composed, map
  // correlation 0 to tat_eta (dks's default 0.9 needs depth: two layers
  // reach at most 0.49, eight 0.83).
  std::string activation = "gelu";
  double tat_eta = 0.9;
  PositionEncoding position = PositionEncoding::kLearned;
  double rope_base = 10000.0;
  bool causal = true;
  bool tied_embeddings = false;
  bool layer_norm = true;  // pre-LN in every block
  bool final_norm = true;
  bool skip = true;      // residual connections
  bool bias = true;      // biases of the linear layers
  double dropout = 0.0;  // on the embeddings and each branch output
  WeightInit init = WeightInit::kStandard;
  // Token and position tables: a truncated normal (at 2 sigma) whose actual
  // standard deviation is embedding_std.
  double embedding_std = 1.0;
  bool zero_init_queries = false;
  bool value_skipinit = false;
  AttentionBias attention_bias = AttentionBias::kNone;
  // The SPA target kernels Sigma_0 (the input) .. Sigma_L (see
  // signal_propagation.h): E-SPA exp(-gamma |i - j|), U-SPA
  // (1 - rho) I + rho 1 1^T. kLogDet (the paper's): Sigma_0 = I and
  // log det Sigma_l linear in l down to the end value; the *_start values are
  // unused. kInterpolate: log gamma / rho linear from start to end.
  SpaSchedule spa_schedule = SpaSchedule::kLogDet;
  double espa_gamma_start = 1.0;
  double espa_gamma_end = 0.1;
  double uspa_rho_start = 0.0;
  double uspa_rho_end = 0.5;
  MoeOptions moe;
};

// Rotary position embedding ("rotate half" form, as GPT-NeoX and LLaMA):
// x (B, H, T, Dh) with even Dh; pairs (j, j + Dh/2) rotate by angle
// t * base^(-2j / Dh). cos and sin are (T, Dh / 2).
Tensor apply_rotary(const Tensor& x, const Tensor& cos, const Tensor& sin);
// The (T, Dh / 2) cos and sin tables.
std::pair<Tensor, Tensor> rotary_tables(int64_t t, int64_t head_dim, double base);

class TransformerAttention : public nn::Module {
 public:
  TransformerAttention(const TransformerOptions& options, const spa::SpaBias* spa, Generator& gen);
  // x (B, T, D) -> (B, T, D); cos / sin are the rotary tables or undefined.
  Tensor forward(const Tensor& x, const Tensor& cos, const Tensor& sin);

 private:
  TransformerOptions options_;
  int64_t head_dim_;
  std::shared_ptr<nn::Linear> query_, key_, value_, output_;
  Tensor alpha_, beta_;  // Value-SkipInit
  Tensor spa_bias_;      // (1, 1, T_max, T_max) or undefined
  Tensor spa_scale_;     // (T_max, 1)
};

// fc1 (D, H), activation, fc2 (H, D).
class FeedForward : public nn::Module {
 public:
  FeedForward(const TransformerOptions& options, nn::Activation activation, Generator& gen);
  Tensor forward(const Tensor& x);

 private:
  nn::Activation activation_;
  std::shared_ptr<nn::Linear> fc1_, fc2_;
};

class TransformerBlock : public nn::Module {
 public:
  TransformerBlock(const TransformerOptions& options, int64_t index, const spa::SpaBias* spa,
                   nn::Activation activation, std::shared_ptr<Generator> dropout_gen,
                   Generator& gen);
  Tensor forward(const Tensor& x, const Tensor& cos, const Tensor& sin);
  // The MoE MLP of this block, or null.
  MoeMlp* moe() const { return moe_.get(); }

 private:
  TransformerOptions options_;
  std::shared_ptr<nn::LayerNorm> ln1_, ln2_;
  std::shared_ptr<TransformerAttention> attention_;
  std::shared_ptr<FeedForward> mlp_;
  std::shared_ptr<MoeMlp> moe_;
  std::shared_ptr<nn::Dropout> dropout_;
};

class Transformer : public Model {
 public:
  Transformer(const TransformerOptions& options, Generator& gen,
              std::shared_ptr<Generator> dropout_gen);
  // tokens (B, T) i32/i64 with T <= max_len -> logits (B, T, V).
  Tensor forward(const Tensor& tokens) override;
  // The same, also collecting the representation entering each block and
  // the final one before the final norm: num_layers + 1 tensors (B, T, D).
  Tensor forward(const Tensor& tokens, std::vector<Tensor>* hidden);
  // The same with `before_block(i, x)` replacing the representation x
  // (B, T, D) entering block i, and (i = num_layers) the one entering the
  // final norm: how Flamingo interleaves its cross-attention layers.
  using BlockHook = std::function<Tensor(int64_t, const Tensor&)>;
  Tensor forward(const Tensor& tokens, const BlockHook& before_block);

  // Sum of the MoE blocks' weighted auxiliary losses of the last forward.
  Tensor aux_loss() const override;
  // MoE utilisation of the last forward: moe_load_balance_loss, moe_z_loss,
  // moe_dropped_fraction, moe_dropped_token_fraction (means over MoE
  // blocks), moe_block<i>_expert<e>_share and moe_max_share.
  std::map<std::string, double> metrics() const override;

  const TransformerOptions& options() const { return options_; }
  // The fixed SPA matrices of each block (empty without attention_bias).
  const std::vector<spa::SpaBias>& spa_matrices() const { return spa_; }
  // TAT's leaky-ReLU negative slope (0 unless activation is tat_leaky_relu).
  double tat_negative_slope() const { return tat_slope_; }
  std::vector<MoeMlp*> moe_layers() const;

 private:
  TransformerOptions options_;
  double tat_slope_ = 0;
  std::vector<spa::SpaBias> spa_;
  std::shared_ptr<nn::Embedding> token_embedding_, position_embedding_;
  std::shared_ptr<nn::Module> block_list_;
  std::vector<std::shared_ptr<TransformerBlock>> blocks_;
  std::shared_ptr<nn::LayerNorm> final_norm_;
  std::shared_ptr<nn::Linear> unembed_;
  std::shared_ptr<nn::Dropout> dropout_;
  Tensor rope_cos_, rope_sin_;  // (T_max, Dh / 2)
};

// The parameter count of Transformer(options), without building it (dense
// MLPs only: throws for a mixture of experts).
int64_t transformer_num_parameters(const TransformerOptions& options);

// The options of a named preset ("gpt_small": benchmarks.md B2).
TransformerOptions transformer_preset(const std::string& name);

}  // namespace kiln::models
