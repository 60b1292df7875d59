// Flamingo (models/flamingo/): identity at initialisation, media masking,
// frozen parts, the resampler, and the parameter counts.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <map>

#include "kiln/autograd/engine.h"
#include "kiln/autograd/grad_mode.h"
#include "kiln/models/flamingo/flamingo.h"
#include "kiln/ops/binary.h"
#include "kiln/ops/random.h"
#include "kiln/ops/reduce.h"
#include "kiln/ops/shape.h"
#include "kiln/train/model_registry.h"

namespace kiln::models {
namespace {

constexpr int64_t kImage = 30, kEoc = 31;

FlamingoOptions small_options() {
  FlamingoOptions o;
  o.vision.in_channels = 1;
  o.vision.num_classes = 10;
  o.vision.stem_channels = {4, 8};
  o.vision.stem_strides = {1, 2};
  o.vision.widths = {8, 16};
  o.vision.depths = {1, 1};
  o.vision.strides = {1, 2};
  o.vision.group_width = 4;
  o.vision.dropout = 0;
  o.vision.stochdepth_rate = 0;
  o.resampler = {.dim = 12,
                 .num_latents = 3,
                 .depth = 2,
                 .heads = 2,
                 .head_dim = 4,
                 .ff_mult = 2,
                 .max_frames = 2};
  o.lm.vocab_size = 32;
  o.lm.max_len = 12;
  o.lm.d_model = 16;
  o.lm.num_layers = 2;
  o.lm.num_heads = 2;
  o.lm.mlp_hidden = 24;
  o.cross_attention.heads = 2;
  o.cross_attention.head_dim = 4;
  o.cross_attention.ff_mult = 2;
  o.image_token_id = kImage;
  o.eoc_token_id = kEoc;
  return o;
}

// Two 8 x 8 images per sequence (B = 1).
Tensor images(uint64_t seed) {
  Generator gen(seed);
  return normal({1, 2, 8, 8, 1}, 0, 1, gen);
}

// text, <image>, text, text, <image>, text, text, <EOC>
Tensor interleaved_tokens() {
  return from_vector(std::vector<int64_t>{3, kImage, 5, 6, kImage, 7, 8, kEoc}, {1, 8});
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  const std::vector<double> x = to_vector(a), y = to_vector(b);
  EXPECT_EQ(x.size(), y.size());
  double m = 0;
  for (size_t i = 0; i < x.size() && i < y.size(); ++i) m = std::max(m, std::abs(x[i] - y[i]));
  return m;
}

// Logits of positions [begin, end) of the sequence.
Tensor positions(const Tensor& logits, int64_t begin, int64_t end) {
  return narrow(logits, 1, begin, end - begin);
}

// Opens every gate (and the special-token embeddings), so images matter.
void open_gates(Flamingo& model) {
  NoGradGuard no_grad;
  Generator gen(7);
  for (auto& [name, p] : model.named_parameters()) {
    if (name.ends_with("_gate")) p.data<float>()[0] = 0.7f;
    if (name == "special_embeddings") {
      const Tensor v = normal(p.shape(), 0, 1, gen);
      std::copy_n(v.data<float>(), v.numel(), p.data<float>());
    }
  }
}

TEST(Flamingo, AtInitialisationTheLogitsAreExactlyTheFrozenLanguageModels) {
  Generator gen(0);
  Flamingo model(small_options(), gen, std::make_shared<Generator>(1));
  const Tensor tokens = interleaved_tokens();
  const Tensor lm_logits = model.language_model().forward(tokens);
  EXPECT_EQ(max_abs_diff(model.forward(tokens, images(2)), lm_logits), 0.0);
  const Tensor text = from_vector(std::vector<int64_t>{3, 4, 5, kEoc}, {1, 4});
  EXPECT_EQ(max_abs_diff(model.forward(text), model.language_model().forward(text)), 0.0);
  // Not vacuous: with the gates open the images change the logits.
  open_gates(model);
  EXPECT_GT(max_abs_diff(model.forward(tokens, images(2)), lm_logits), 1e-4);
}

TEST(Flamingo, ATokenSeesOnlyTheImagesBeforeIt) {
  Generator gen(0);
  Flamingo model(small_options(), gen, std::make_shared<Generator>(1));
  open_gates(model);
  const Tensor tokens = interleaved_tokens();
  const Tensor base = model.forward(tokens, images(2));
  Tensor second_changed = contiguous(images(2));
  Tensor first_changed = contiguous(images(2));
  {
    const Tensor other = images(3);
    std::copy_n(other.data<float>() + 64, 64, second_changed.data<float>() + 64);
    std::copy_n(other.data<float>(), 64, first_changed.data<float>());
  }
  const Tensor after_second = model.forward(tokens, second_changed);
  // Before image 2 (positions 0..3) nothing depends on it; from its
  // <image> token on, everything does.
  EXPECT_EQ(max_abs_diff(positions(after_second, 0, 4), positions(base, 0, 4)), 0.0);
  EXPECT_GT(max_abs_diff(positions(after_second, 4, 8), positions(base, 4, 8)), 1e-4);
  // Image 1: the token before it is untouched, its own <image> token and
  // the text after it change.
  const Tensor after_first = model.forward(tokens, first_changed);
  EXPECT_EQ(max_abs_diff(positions(after_first, 0, 1), positions(base, 0, 1)), 0.0);
  EXPECT_GT(max_abs_diff(positions(after_first, 1, 4), positions(base, 1, 4)), 1e-4);
}

TEST(Flamingo, CrossAttentionAfterImageTwoIgnoresImageOne) {
  // The masking itself, at the gated layer: the text after image 2 attends
  // to image 2's visual tokens only (the LM's self-attention may still
  // carry image 1 forward indirectly, as in the paper).
  Generator gen(0);
  GatedCrossAttention layer({.dim = 16, .media_dim = 12, .heads = 2, .head_dim = 4, .ff_mult = 2},
                            gen);
  for (auto& [name, p] : layer.named_parameters()) {
    if (name.ends_with("_gate")) p.data<float>()[0] = 0.7f;
  }
  const Tensor tokens = interleaved_tokens();
  const Tensor y = normal({1, 8, 16}, 0, 1, gen);
  const Tensor media = contiguous(normal({1, 6, 12}, 0, 1, gen));  // 2 images x 3 tokens
  const Tensor bias = media_attention_bias(tokens, kImage, 2, 3);
  const Tensor base = layer.forward(y, media, bias);
  Tensor changed = contiguous(clone(media));
  for (int64_t i = 0; i < 3 * 12; ++i) changed.data<float>()[i] += 1.0f;  // image 1
  const Tensor out = layer.forward(y, changed, bias);
  EXPECT_EQ(max_abs_diff(narrow(out, 1, 4, 4), narrow(base, 1, 4, 4)), 0.0);
  EXPECT_GT(max_abs_diff(narrow(out, 1, 1, 3), narrow(base, 1, 1, 3)), 1e-4);
  // Before the first image: no visual input at all (only the dense branch).
  EXPECT_EQ(max_abs_diff(narrow(out, 1, 0, 1), narrow(base, 1, 0, 1)), 0.0);
}

TEST(Flamingo, MediaBiasFollowsTheCumulativeImageCount) {
  const Tensor tokens = from_vector(std::vector<int64_t>{1, kImage, 2, kImage}, {1, 4});
  const std::vector<double> bias = to_vector(media_attention_bias(tokens, kImage, 2, 1));
  const double inf = std::numeric_limits<double>::infinity();
  // Rows: tokens; columns: image 1, image 2.
  EXPECT_EQ(bias, (std::vector<double>{-inf, -inf, 0, -inf, 0, -inf, -inf, 0}));
  EXPECT_THROW(media_attention_bias(tokens, kImage, 1, 1), Error);
}

TEST(Flamingo, FrozenPartsGetNoGradientAndStayInEvalMode) {
  Generator gen(0);
  Flamingo model(small_options(), gen, std::make_shared<Generator>(1));
  open_gates(model);
  model.train();
  const Tensor loss = sum(model.forward(interleaved_tokens(), images(2)));
  autograd::run_backward(loss, Tensor(), false);
  int64_t trainable = 0;
  for (auto& [name, p] : model.named_parameters()) {
    const bool frozen = name.starts_with("vision.") || name.starts_with("lm.");
    EXPECT_EQ(p.requires_grad(), !frozen) << name;
    if (frozen) {
      EXPECT_FALSE(p.grad().defined()) << name;
    } else {
      ++trainable;
      ASSERT_TRUE(p.grad().defined()) << name;
    }
  }
  EXPECT_GT(trainable, 0);
  EXPECT_FALSE(model.vision_encoder().is_training());
  EXPECT_FALSE(model.language_model().is_training());
}

TEST(Flamingo, ResamplerGivesRTokensForImagesAndVideo) {
  Generator gen(0);
  Flamingo model(small_options(), gen, std::make_shared<Generator>(1));
  EXPECT_EQ(model.visual_tokens(images(2)).shape(), (Shape{1, 6, 12}));
  Generator g(5);
  const Tensor video = normal({1, 2, 2, 8, 8, 1}, 0, 1, g);  // 2 clips of 2 frames
  EXPECT_EQ(model.visual_tokens(video).shape(), (Shape{1, 6, 12}));
  const Tensor too_long = normal({1, 1, 3, 8, 8, 1}, 0, 1, g);  // max_frames is 2
  EXPECT_THROW(model.visual_tokens(too_long), Error);
}

TEST(Flamingo, ParameterCountsWithoutBuilding) {
  FlamingoOptions o = small_options();
  for (int64_t every : {1, 2}) {
    o.cross_attention_every = every;
    Generator gen(0);
    Flamingo model(o, gen, std::make_shared<Generator>(1));
    const FlamingoParameterCounts n = flamingo_num_parameters(o);
    int64_t vision_head = 0;
    for (auto& [name, p] : model.named_parameters()) {
      if (name.starts_with("vision.head.")) vision_head += p.numel();
    }
    EXPECT_EQ(n.total() + vision_head, model.num_parameters()) << "every " << every;
  }
  TransformerOptions lm = o.lm;
  for (int variant = 0; variant < 4; ++variant) {
    lm.bias = variant != 1;
    lm.tied_embeddings = variant == 2;
    lm.position = variant == 3 ? PositionEncoding::kRotary : PositionEncoding::kLearned;
    lm.value_skipinit = variant == 3;
    Generator gen(0);
    Transformer t(lm, gen, nullptr);
    EXPECT_EQ(transformer_num_parameters(lm), t.num_parameters()) << "variant " << variant;
  }
}

TEST(Flamingo, PresetsAreCountedWithoutBuildingAndMatchThePaperWhereItIsKnown) {
  // Flamingo-3B, paper appendix (as transcribed by dhansmair/flamingo-mini):
  // vision 435M, resampler 194M, cross-attention 1.2B, LM 1.4B, total 3.2B.
  const absl::StatusOr<std::optional<train::ParameterCounts>> counts =
      train::count_model_parameters("flamingo", {{"preset", "flamingo_3b"}}, {}, "test.json");
  ASSERT_TRUE(counts.ok()) << counts.status();
  ASSERT_TRUE(counts->has_value());
  std::map<std::string, int64_t> by_part((*counts)->begin(), (*counts)->end());
  EXPECT_NEAR(by_part["vision"] / 1e6, 435, 0.5);
  EXPECT_NEAR(by_part["resampler"] / 1e6, 194, 0.5);
  EXPECT_NEAR(by_part["cross_attention"] / 1e9, 1.2, 0.05);
  EXPECT_NEAR(by_part["lm"] / 1e9, 1.4, 0.1);
  // Bad keys name themselves.
  const auto bad = train::count_model_parameters(
      "flamingo", {{"preset", "flamingo_3b"}, {"cross_attention_every", 99}}, {}, "test.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("model.cross_attention_every"), std::string::npos)
      << bad.status();
}

}  // namespace
}  // namespace kiln::models
