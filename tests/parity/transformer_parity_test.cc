// Whole-model parity with the PyTorch implementation in
// tools/golden/transformer.py: the same weights (kiln's names and layouts)
// give the same logits, loss and gradient of every parameter, for the
// standard LM, E-SPA (with TAT and rotary positions), U-SPA with
// Value-SkipInit, and a top-2 mixture of experts; the SPA bias and scale
// match the golden's numerical Cholesky construction.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "kiln/models/transformer/transformer.h"
#include "kiln/ops/binary.h"
#include "kiln/ops/nn.h"
#include "kiln/ops/shape.h"
#include "tests/parity/golden.h"

namespace kiln::parity {
namespace {

using models::Transformer;
using models::TransformerOptions;

// kiln runs float32 against float64 answers, so the errors are float32
// rounding accumulated over two blocks: measured worst absolute error 6e-7
// (standard, MoE) to 2e-6 (the un-normalised vanilla blocks), 6x or more
// inside this bound.
constexpr Tolerance kModelTolerance{1e-5, 1e-5};

bool meta_bool(const Golden& g, const std::string& key) { return g.meta_int(key) != 0; }

TransformerOptions options_from(const Golden& g) {
  TransformerOptions o;
  o.vocab_size = g.meta_int("vocab_size");
  o.max_len = g.meta_int("max_len");
  o.d_model = g.meta_int("d_model");
  o.num_layers = g.meta_int("num_layers");
  o.num_heads = g.meta_int("num_heads");
  o.mlp_hidden = g.meta_int("mlp_hidden");
  o.activation = g.meta("activation");
  o.tat_eta = g.meta_double("tat_eta");
  const std::string position = g.meta("position");
  o.position = position == "learned" ? models::PositionEncoding::kLearned
               : position == "rope"  ? models::PositionEncoding::kRotary
                                     : models::PositionEncoding::kNone;
  o.rope_base = g.meta_double("rope_base");
  o.causal = meta_bool(g, "causal");
  o.tied_embeddings = meta_bool(g, "tied_embeddings");
  o.layer_norm = meta_bool(g, "layer_norm");
  o.final_norm = meta_bool(g, "final_norm");
  o.skip = meta_bool(g, "skip");
  o.bias = meta_bool(g, "bias");
  o.value_skipinit = meta_bool(g, "value_skipinit");
  const std::string bias = g.meta("attention_bias");
  o.attention_bias = bias == "e_spa"   ? models::AttentionBias::kExponential
                     : bias == "u_spa" ? models::AttentionBias::kUniform
                                       : models::AttentionBias::kNone;
  // The fixtures were made with the linear interpolation between both ends.
  o.spa_schedule = models::SpaSchedule::kInterpolate;
  o.espa_gamma_start = g.meta_double("espa_gamma_start");
  o.espa_gamma_end = g.meta_double("espa_gamma_end");
  o.uspa_rho_start = g.meta_double("uspa_rho_start");
  o.uspa_rho_end = g.meta_double("uspa_rho_end");
  o.moe.num_experts = g.meta_int("moe_num_experts");
  o.moe.top_k = g.meta_int("moe_top_k");
  o.moe.capacity_factor = g.meta_double("moe_capacity_factor");
  o.moe.normalize_gates = meta_bool(g, "moe_normalize_gates");
  o.moe.load_balance_weight = g.meta_double("moe_load_balance_weight");
  o.moe.z_loss_weight = g.meta_double("moe_z_loss_weight");
  return o;
}

void check_model(const std::string& name) {
  SCOPED_TRACE(name);
  const Golden g = Golden::load(name);
  const TransformerOptions o = options_from(g);
  Generator gen(0);
  Transformer model(o, gen, nullptr);

  // The golden's weights, strictly: every kiln parameter has one and no more.
  std::map<std::string, Tensor> state;
  for (const auto& [pname, t] : model.named_parameters()) {
    ASSERT_TRUE(g.has("param." + pname)) << "golden lacks " << pname;
    state[pname] = g.get("param." + pname, DType::kF32);
  }
  ASSERT_TRUE(model.load_state_dict(state).ok());

  if (o.activation == "tat_leaky_relu") {
    EXPECT_NEAR(model.tat_negative_slope(), g.meta_double("tat_negative_slope"), 1e-12);
  }
  for (size_t l = 0; l < model.spa_matrices().size(); ++l) {
    const std::string i = std::to_string(l);
    EXPECT_TRUE(all_close(model.spa_matrices()[l].bias, g.raw("spa_bias." + i), {2e-6, 2e-6}))
        << "spa bias of block " << l;
    EXPECT_TRUE(all_close(model.spa_matrices()[l].scale, g.raw("spa_scale." + i), {1e-6, 1e-6}))
        << "spa scale of block " << l;
  }

  const Tensor tokens = g.get("tokens", DType::kI64);  // (B, T + 1)
  const int64_t b = tokens.size(0), t = tokens.size(1) - 1;
  const Tensor inputs = contiguous(narrow(tokens, 1, 0, t));
  const Tensor targets = reshape(contiguous(narrow(tokens, 1, 1, t)), {b * t});
  const Tensor logits = model.forward(inputs);
  EXPECT_TRUE(all_close(logits, g.raw("logits"), kModelTolerance)) << "logits";
  Tensor loss = cross_entropy(reshape(logits, {b * t, o.vocab_size}), targets);
  if (g.has("aux_loss")) {
    ASSERT_TRUE(model.aux_loss().defined());
    EXPECT_TRUE(all_close(reshape(model.aux_loss(), {1}), g.raw("aux_loss"), kModelTolerance))
        << "aux loss";
    loss = add(loss, model.aux_loss());
  }
  EXPECT_TRUE(all_close(reshape(loss, {1}), g.raw("loss"), kModelTolerance)) << "loss";
  loss.backward();
  for (const auto& [pname, p] : model.named_parameters()) {
    ASSERT_TRUE(p.grad().defined()) << pname;
    EXPECT_TRUE(all_close(p.grad(), g.raw("grad." + pname), kModelTolerance)) << "grad " << pname;
  }
}

TEST(TransformerParity, StandardPreLnLm) { check_model("transformer_standard"); }
TEST(TransformerParity, VanillaEspaTatRotary) { check_model("transformer_espa"); }
TEST(TransformerParity, UspaValueSkipInitTied) { check_model("transformer_uspa_vskip"); }
TEST(TransformerParity, MixtureOfExpertsTop2) { check_model("transformer_moe"); }

}  // namespace
}  // namespace kiln::parity
