// Parity of Flamingo's Perceiver Resampler and GATED XATTN-DENSE layer with
// the PyTorch implementation in tools/golden/flamingo.py (the paper's math
// with kiln's names): the same weights give the same outputs, loss
// sum(out * proj) and gradient of every parameter and float input, for a
// resampler over two frames with time embeddings, and for a gated layer
// with non-zero gates whose media mask leaves the tokens before the first
// image seeing nothing, with the fixture's mask and with the one kiln's
// media_attention_bias builds from the fixture's token ids.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "kiln/autograd/grad_mode.h"
#include "kiln/models/flamingo/gated_cross_attention.h"
#include "kiln/models/flamingo/perceiver_resampler.h"
#include "kiln/ops/binary.h"
#include "kiln/ops/reduce.h"
#include "kiln/ops/shape.h"
#include "tests/parity/golden.h"

namespace kiln::parity {
namespace {

// float32 against float64 answers through a few LayerNorms, softmaxes and
// squared ReLUs; the Perceiver parity test's tolerance.
constexpr Tolerance kModelTolerance{2e-5, 2e-5};

// Loads the golden's weights into `model`, strictly: the golden's param.*
// names are exactly the module's parameter names, with the same shapes.
void load_parameters(const Golden& g, nn::Module& model) {
  std::set<std::string> golden_names;
  for (const std::string& name : g.names()) {
    if (name.rfind("param.", 0) == 0) golden_names.insert(name.substr(6));
  }
  std::set<std::string> model_names;
  std::map<std::string, Tensor> state;
  for (const auto& [name, p] : model.named_parameters()) {
    model_names.insert(name);
    ASSERT_TRUE(g.has("param." + name)) << "golden lacks " << name;
    ASSERT_EQ(shape_str(g.raw("param." + name).shape()), shape_str(p.shape())) << name;
    state[name] = g.get("param." + name, DType::kF32);
  }
  for (const std::string& name : golden_names) {
    EXPECT_TRUE(model_names.count(name)) << "kiln lacks " << name;
  }
  ASSERT_EQ(golden_names, model_names);
  ASSERT_EQ(static_cast<int64_t>(model_names.size()), g.meta_int("num_params"));
  ASSERT_TRUE(model.load_state_dict(state).ok());
}

// out, loss = sum(out * proj) and, after backward, every parameter's
// gradient against the golden.
void check_outputs_and_gradients(const Golden& g, nn::Module& model, const Tensor& out) {
  EXPECT_TRUE(all_close(out, g.raw("out"), kModelTolerance)) << "outputs";
  const Tensor loss = sum(mul(out, g.get("proj", DType::kF32)));
  EXPECT_TRUE(all_close(reshape(loss, {1}), g.raw("loss"), kModelTolerance)) << "loss";
  loss.backward();
  for (const auto& [name, p] : model.named_parameters()) {
    ASSERT_TRUE(p.grad().defined()) << name;
    EXPECT_TRUE(all_close(p.grad(), g.raw("grad." + name), kModelTolerance)) << "grad " << name;
  }
}

TEST(FlamingoParity, PerceiverResamplerVideoFeaturesTimeEmbeddings) {
  const Golden g = Golden::load("flamingo_resampler");
  models::PerceiverResamplerOptions o;
  o.dim = g.meta_int("dim");
  o.num_latents = g.meta_int("num_latents");
  o.depth = g.meta_int("depth");
  o.heads = g.meta_int("heads");
  o.head_dim = g.meta_int("head_dim");
  o.ff_mult = g.meta_int("ff_mult");
  o.activation = g.meta("activation");
  o.max_frames = g.meta_int("max_frames");
  Generator gen(0);
  models::PerceiverResampler model(o, gen);
  ASSERT_EQ(models::perceiver_resampler_num_parameters(o), model.num_parameters());
  load_parameters(g, model);
  if (HasFatalFailure()) return;

  const Tensor features = g.leaf("features", DType::kF32);  // (B, T, S, d)
  ASSERT_LT(features.size(1), o.max_frames);  // an unused time embedding: zero gradient
  const Tensor out = model.forward(features);
  check_outputs_and_gradients(g, model, out);
  EXPECT_TRUE(all_close(features.grad(), g.raw("grad_features"), kModelTolerance))
      << "grad features";
}

models::GatedCrossAttentionOptions gated_options(const Golden& g) {
  models::GatedCrossAttentionOptions o;
  o.dim = g.meta_int("dim");
  o.media_dim = g.meta_int("media_dim");
  o.heads = g.meta_int("heads");
  o.head_dim = g.meta_int("head_dim");
  o.ff_mult = g.meta_int("ff_mult");
  o.activation = g.meta("activation");
  o.gated = g.meta_int("gated") != 0;
  return o;
}

void check_gated(const Golden& g, const Tensor& media_bias) {
  const models::GatedCrossAttentionOptions o = gated_options(g);
  Generator gen(0);
  models::GatedCrossAttention model(o, gen);
  ASSERT_EQ(models::gated_cross_attention_num_parameters(o), model.num_parameters());
  load_parameters(g, model);
  if (::testing::Test::HasFatalFailure()) return;
  // Non-zero gates: both branches reach the output.
  ASSERT_NE(to_vector(g.raw("param.attention_gate"))[0], 0.0);
  ASSERT_NE(to_vector(g.raw("param.dense_gate"))[0], 0.0);

  const Tensor y = g.leaf("y", DType::kF32);          // (B, L, D)
  const Tensor media = g.leaf("media", DType::kF32);  // (B, N R, d)
  const Tensor out = model.forward(y, media, media_bias);
  {
    // A token before its row's first image sees no visual token: its
    // output is exactly that of a layer whose mask hides every image.
    NoGradGuard no_grad;
    const Tensor hidden = full(media_bias.shape(), -INFINITY);
    const std::vector<double> blind = to_vector(model.forward(y, media, hidden));
    const std::vector<double> seen = to_vector(out);
    const std::vector<double> tokens = to_vector(g.raw("tokens"));
    const int64_t b = out.size(0), l = out.size(1), d = out.size(2);
    const int64_t image = g.meta_int("image_token_id");
    int64_t before = 0;
    for (int64_t i = 0; i < b; ++i) {
      for (int64_t t = 0; t < l && tokens[i * l + t] != image; ++t, ++before) {
        for (int64_t c = 0; c < d; ++c) {
          const int64_t k = (i * l + t) * d + c;
          ASSERT_EQ(seen[k], blind[k]) << "row " << i << " token " << t << " channel " << c;
        }
      }
    }
    EXPECT_GT(before, 0);
  }
  check_outputs_and_gradients(g, model, out);
  EXPECT_TRUE(all_close(y.grad(), g.raw("grad_y"), kModelTolerance)) << "grad y";
  EXPECT_TRUE(all_close(media.grad(), g.raw("grad_media"), kModelTolerance)) << "grad media";
}

TEST(FlamingoParity, GatedXattnDenseFixtureMask) {
  const Golden g = Golden::load("flamingo_gated_xattn");
  check_gated(g, g.get("media_bias", DType::kF32));
}

TEST(FlamingoParity, GatedXattnDenseMaskFromTokens) {
  const Golden g = Golden::load("flamingo_gated_xattn");
  const Tensor bias =
      models::media_attention_bias(g.get("tokens", DType::kI64), g.meta_int("image_token_id"),
                                   g.meta_int("num_images"), g.meta_int("tokens_per_image"));
  // The same 0 / -inf pattern as the fixture's (compared exactly: -inf
  // minus -inf is not a number).
  const Tensor& expected = g.raw("media_bias");
  ASSERT_EQ(shape_str(bias.shape()), shape_str(expected.shape()));
  const std::vector<double> a = to_vector(bias);
  const std::vector<double> e = to_vector(expected);
  int64_t masked = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i], e[i]) << "media bias element " << i;
    masked += std::isinf(e[i]) ? 1 : 0;
  }
  EXPECT_GT(masked, 0);
  check_gated(g, bias);
}

}  // namespace
}  // namespace kiln::parity
