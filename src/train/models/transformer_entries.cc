// Registry entries of the transformer family: "transformer_lm" (causal) and
// "transformer_encoder" (no mask), from the config's model section. A
// "preset" ("gpt_small") sets the defaults that the other keys override.
#include "kiln/models/transformer/transformer.h"
#include "kiln/nn/layers.h"
#include "src/train/model_entries.h"

namespace kiln::train {
namespace {

void read_positive(ObjectReader& r, const std::string& key, int64_t* out) {
  r.read(key, out);
  r.check_range(key, static_cast<double>(*out), 1, 1e9);
}

void read_moe(ObjectReader r, models::MoeOptions* m) {
  r.read("num_experts", &m->num_experts);
  r.check_range("num_experts", static_cast<double>(m->num_experts), 0, 1e6);
  read_positive(r, "top_k", &m->top_k);
  if (m->num_experts > 0 && m->top_k > m->num_experts) {
    r.fail("top_k", "must not exceed num_experts");
  }
  r.read("capacity_factor", &m->capacity_factor);
  r.check_range("capacity_factor", m->capacity_factor, 0.0, 1e6, false);
  r.read("eval_capacity_factor", &m->eval_capacity_factor);
  r.check_range("eval_capacity_factor", m->eval_capacity_factor, 0.0, 1e6, false);
  r.read("load_balance_weight", &m->load_balance_weight);
  r.check_range("load_balance_weight", m->load_balance_weight, 0.0, 1e6);
  r.read("z_loss_weight", &m->z_loss_weight);
  r.check_range("z_loss_weight", m->z_loss_weight, 0.0, 1e6);
  r.read("normalize_gates", &m->normalize_gates);
  read_positive(r, "every", &m->every);
  r.finish();
}

}  // namespace

models::TransformerOptions read_transformer_options(ObjectReader& r, const ModelContext& c,
                                                    bool causal,
                                                    const models::TransformerOptions& base) {
  models::TransformerOptions o = base;
  if (r.has("preset")) {
    std::string preset;
    r.read("preset", &preset);
    r.check_one_of("preset", preset, {"gpt_small"});
    o = models::transformer_preset(preset);
  }
  o.causal = causal;
  o.vocab_size = c.num_classes;
  if (c.input_shape.size() != 1) {
    r.fail("name", "needs token sequences (B, T): use a text dataset");
  }
  o.max_len = c.input_shape[0];
  r.read("max_len", &o.max_len);
  if (o.max_len < c.input_shape[0]) {
    r.fail("max_len", "must be at least data.sequence_length");
  }
  read_positive(r, "d_model", &o.d_model);
  read_positive(r, "num_layers", &o.num_layers);
  read_positive(r, "num_heads", &o.num_heads);
  if (o.d_model % o.num_heads != 0) r.fail("num_heads", "must divide d_model");
  read_positive(r, "mlp_hidden", &o.mlp_hidden);
  r.read("activation", &o.activation);
  if (o.activation != "tat_leaky_relu" && !nn::is_activation_name(o.activation)) {
    r.fail("activation", "is not a known activation (or tat_leaky_relu)");
  }
  r.read("tat_eta", &o.tat_eta);
  r.check_range("tat_eta", o.tat_eta, 0.0, 1.0, false, false);

  std::string position = "learned";
  r.read("position", &position);
  r.check_one_of("position", position, {"learned", "rope", "none"});
  o.position = position == "learned" ? models::PositionEncoding::kLearned
               : position == "rope"  ? models::PositionEncoding::kRotary
                                     : models::PositionEncoding::kNone;
  if (o.position == models::PositionEncoding::kRotary && (o.d_model / o.num_heads) % 2 != 0) {
    r.fail("position", "rope needs an even head dim (d_model / num_heads)");
  }
  r.read("rope_base", &o.rope_base);
  r.check_range("rope_base", o.rope_base, 0.0, 1e12, false);

  r.read("tied_embeddings", &o.tied_embeddings);
  r.read("layer_norm", &o.layer_norm);
  r.read("final_norm", &o.final_norm);
  r.read("skip", &o.skip);
  r.read("bias", &o.bias);
  r.read("dropout", &o.dropout);
  r.check_range("dropout", o.dropout, 0.0, 1.0, true, false);
  std::string init = "standard";
  r.read("init", &init);
  r.check_one_of("init", init, {"standard", "orthogonal"});
  o.init = init == "orthogonal" ? models::WeightInit::kOrthogonal : models::WeightInit::kStandard;
  r.read("embedding_std", &o.embedding_std);
  r.check_range("embedding_std", o.embedding_std, 0.0, 1e6, false);
  r.read("zero_init_queries", &o.zero_init_queries);
  r.read("value_skipinit", &o.value_skipinit);

  std::string bias = "none";
  r.read("attention_bias", &bias);
  r.check_one_of("attention_bias", bias, {"none", "e_spa", "u_spa"});
  o.attention_bias = bias == "e_spa"   ? models::AttentionBias::kExponential
                     : bias == "u_spa" ? models::AttentionBias::kUniform
                                       : models::AttentionBias::kNone;
  if (o.attention_bias != models::AttentionBias::kNone && !causal) {
    r.fail("attention_bias", "E-SPA / U-SPA need causal attention (transformer_lm)");
  }
  std::string schedule = "log_det";
  r.read("spa_schedule", &schedule);
  r.check_one_of("spa_schedule", schedule, {"log_det", "interpolate"});
  const bool interpolate = schedule == "interpolate";
  o.spa_schedule = interpolate ? models::SpaSchedule::kInterpolate : models::SpaSchedule::kLogDet;
  for (const char* key : {"espa_gamma_start", "uspa_rho_start"}) {
    if (!interpolate && r.has(key)) {
      r.fail(key, "is used only with spa_schedule \"interpolate\" (log_det starts at Sigma_0 = I)");
    }
  }
  r.read("espa_gamma_start", &o.espa_gamma_start);
  r.check_range("espa_gamma_start", o.espa_gamma_start, 0.0, 1e6, false);
  r.read("espa_gamma_end", &o.espa_gamma_end);
  r.check_range("espa_gamma_end", o.espa_gamma_end, 0.0, interpolate ? o.espa_gamma_start : 1e6,
                false);
  r.read("uspa_rho_start", &o.uspa_rho_start);
  r.check_range("uspa_rho_start", o.uspa_rho_start, 0.0, 1.0, true, false);
  r.read("uspa_rho_end", &o.uspa_rho_end);
  r.check_range("uspa_rho_end", o.uspa_rho_end, interpolate ? o.uspa_rho_start : 0.0, 1.0, true,
                false);
  read_moe(r.object("moe"), &o.moe);
  return o;
}

namespace {

std::shared_ptr<models::Model> build_transformer(ObjectReader& r, const ModelContext& c,
                                                 bool causal) {
  const models::TransformerOptions o = read_transformer_options(r, c, causal, {});
  return std::make_shared<models::Transformer>(o, *c.init_gen, c.dropout_gen);
}

}  // namespace

std::vector<ModelEntry> transformer_model_entries() {
  return {
      {"transformer_lm",
       "decoder-only transformer LM (pre-LN, learned or rotary positions; deep vanilla "
       "switches E-SPA / U-SPA / Value-SkipInit / TAT; mixture of experts)",
       [](ObjectReader& r, const ModelContext& c) { return build_transformer(r, c, true); }},
      {"transformer_encoder", "bidirectional transformer encoder (no causal mask), same options",
       [](ObjectReader& r, const ModelContext& c) { return build_transformer(r, c, false); }},
  };
}

}  // namespace kiln::train
