// The Perceiver family (models/perceiver/): Fourier features on hand-worked
// cases, output shapes of every decoder, weight sharing, permutation
// invariance / equivariance, the pixel-permutation switches of the data and
// the model, presets, config errors, and the masked-LM task's masking.
#include <gtest/gtest.h>

#include <cmath>

#include "kiln/autograd/grad_mode.h"
#include "kiln/models/perceiver/bytes_tokenizer.h"
#include "kiln/models/perceiver/perceiver.h"
#include "kiln/ops/binary.h"
#include "kiln/ops/random.h"
#include "kiln/ops/reduce.h"
#include "kiln/ops/shape.h"
#include "kiln/train/experiment_config.h"
#include "kiln/train/model_registry.h"
#include "src/train/builders.h"
#include "src/train/tasks/masked_lm_task.h"

namespace kiln::models {
namespace {

void expect_values(const Tensor& t, const std::vector<double>& expected, double tol = 1e-6) {
  const std::vector<double> v = to_vector(t);
  ASSERT_EQ(v.size(), expected.size());
  for (size_t i = 0; i < v.size(); ++i) EXPECT_NEAR(v[i], expected[i], tol) << "element " << i;
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  const std::vector<double> x = to_vector(a), y = to_vector(b);
  EXPECT_EQ(x.size(), y.size());
  double m = 0;
  for (size_t i = 0; i < x.size() && i < y.size(); ++i) m = std::max(m, std::abs(x[i] - y[i]));
  return m;
}

// A small image Perceiver: 6 x 5 x 2 images, 4 latents of 8 channels.
PerceiverOptions small_options() {
  PerceiverOptions o;
  o.input_shape = {6, 5, 2};
  o.num_classes = 3;
  o.fourier = {.num_bands = 3};
  o.num_latents = 4;
  o.latent_channels = 8;
  o.num_blocks = 2;
  o.num_self_attends_per_block = 2;
  o.num_cross_attends = 2;
  o.cross_attend_heads = 1;
  o.self_attend_heads = 2;
  o.decoder = PerceiverDecoder::kMean;
  o.zero_init_head = false;
  o.query_channels = 6;
  return o;
}

// ----------------------------------------------------------------- Fourier

TEST(PerceiverFourier, OneAxisHandCase) {
  // Positions -1, -0.5, 0, 0.5, 1; bands linspace(1, 6 / 2, 3) = 1, 2, 3.
  const Tensor f = fourier_position_encoding({5}, {.num_bands = 3, .max_resolution = {6}});
  ASSERT_EQ(f.shape(), (Shape{5, 7}));
  // Position 0.5: [p, sin(pi/2), sin(pi), sin(3pi/2), cos(pi/2), cos(pi), cos(3pi/2)].
  expect_values(narrow(f, 0, 3, 1), {0.5, 1, 0, -1, 0, -1, 0});
  // Position -1 (the first, endpoint included): sines 0, cosines (-1)^f.
  expect_values(narrow(f, 0, 0, 1), {-1, 0, 0, 0, -1, 1, -1});
  // Position -0.5: sin(-pi/2), sin(-pi), sin(-3pi/2); the cosines.
  expect_values(narrow(f, 0, 1, 1), {-0.5, -1, 0, 1, 0, -1, 0});
}

TEST(PerceiverFourier, AxesAreDimMajorSinesThenCosines) {
  // One position (0.5, 0.25); axis 0 bands 1, 2 (max 4), axis 1 bands 1, 4 (max 8).
  const Tensor pos = from_vector(std::vector<double>{0.5, 0.25}, {1, 2});
  const Tensor f = fourier_features(pos, {.num_bands = 2, .max_resolution = {4, 8}});
  const double r = std::sqrt(0.5);
  expect_values(f, {0.5, 0.25,       // raw positions
                    1, 0, r, 0,      // sin: axis 0 (f 1, 2), axis 1 (f 1, 4)
                    0, -1, r, -1});  // cos, same order
  // Without the raw positions, and with sines only.
  expect_values(
      fourier_features(
          pos, {.num_bands = 2, .max_resolution = {4, 8}, .concat_pos = false, .sine_only = true}),
      {1, 0, r, 0});
}

TEST(PerceiverFourier, ChannelCountsAndGrid) {
  EXPECT_EQ(fourier_channels(2, {.num_bands = 64}), 258);  // ImageNet: 3 + 258 = 261
  EXPECT_EQ(fourier_channels(3, {.num_bands = 32}), 195);
  EXPECT_EQ(fourier_channels(2, {.num_bands = 4, .concat_pos = false, .sine_only = true}), 8);
  // Row-major ("ij") grid; both endpoints; a size-1 axis sits at -1.
  expect_values(linear_positions({2, 3}), {-1, -1, -1, 0, -1, 1, 1, -1, 1, 0, 1, 1});
  expect_values(linear_positions({1, 2}), {-1, -1, -1, 1});
  EXPECT_THROW(linear_positions({2, 0}), Error);
  EXPECT_THROW(fourier_features(linear_positions({2, 2}), {.num_bands = 2, .max_resolution = {4}}),
               Error);
  // The default max resolution is the grid size.
  EXPECT_EQ(
      max_abs_diff(fourier_position_encoding({3, 4}, {.num_bands = 2}),
                   fourier_position_encoding({3, 4}, {.num_bands = 2, .max_resolution = {3, 4}})),
      0.0);
}

// ----------------------------------------------------------------- shapes

TEST(Perceiver, OutputShapesOfEveryDecoder) {
  NoGradGuard no_grad;
  Generator gen(1);
  const Tensor images = normal({3, 6, 5, 2}, 0, 1, gen);
  PerceiverOptions o = small_options();
  {
    Perceiver model(o, gen, nullptr);
    EXPECT_EQ(model.input_channels(), 2 + 14);
    EXPECT_EQ(model.forward(images).shape(), (Shape{3, 3}));
  }
  o.decoder = PerceiverDecoder::kClassification;
  EXPECT_EQ(Perceiver(o, gen, nullptr).forward(images).shape(), (Shape{3, 3}));
  o.decoder = PerceiverDecoder::kFlow;
  EXPECT_EQ(Perceiver(o, gen, nullptr).forward(images).shape(), (Shape{3, 6, 5, 2}));

  PerceiverOptions f = small_options();
  f.input = PerceiverInput::kFlow;
  f.input_shape = {4, 3, 6};  // two RGB frames
  f.input_projection = 5;
  f.decoder = PerceiverDecoder::kFlow;
  Perceiver flow(f, gen, nullptr);
  EXPECT_EQ(flow.input_channels(), 5 + 14);
  EXPECT_EQ(flow.forward(normal({2, 4, 3, 6}, 0, 1, gen)).shape(), (Shape{2, 4, 3, 2}));

  PerceiverOptions t = small_options();
  t.input = PerceiverInput::kTokens;
  t.input_shape = {10};
  t.position = PerceiverPosition::kLearned;
  t.embed_dim = 6;
  t.decoder = PerceiverDecoder::kMaskedLm;
  t.decoder_query_residual = false;
  Perceiver mlm(t, gen, nullptr);
  const Tensor ids = randint({2, 7}, 6, 262, gen);  // T = 7 < 10
  EXPECT_EQ(mlm.forward(ids).shape(), (Shape{2, 7, 262}));
  t.shared_query = true;
  const Tensor shared_logits = Perceiver(t, gen, nullptr).forward(ids);
  EXPECT_EQ(shared_logits.shape(), (Shape{2, 7, 262}));
  // One query for every position: every position of a sequence gets the same
  // logits up to float rounding (the masked-LM query ablation's model cannot
  // tell positions apart).
  for (int64_t i = 1; i < 7; ++i) {
    EXPECT_LT(max_abs_diff(narrow(shared_logits, 1, i, 1), narrow(shared_logits, 1, 0, 1)), 1e-4);
  }

  // Misuse names the shapes.
  try {
    Perceiver(small_options(), gen, nullptr).forward(normal({3, 5, 6, 2}, 0, 1, gen));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("(3, 5, 6, 2)"), std::string::npos) << e.what();
  }
  EXPECT_THROW(mlm.forward(randint({2, 11}, 6, 262, gen)), Error);  // T > max
}

TEST(Perceiver, ZeroInitHeadsStartAtZero) {
  NoGradGuard no_grad;
  Generator gen(2);
  PerceiverOptions o = small_options();
  o.zero_init_head = true;
  const Tensor images = normal({2, 6, 5, 2}, 0, 1, gen);
  EXPECT_EQ(max_abs_diff(Perceiver(o, gen, nullptr).forward(images), zeros({2, 3})), 0.0);
  o.decoder = PerceiverDecoder::kFlow;  // the flow output layer is zero-initialised too
  EXPECT_EQ(max_abs_diff(Perceiver(o, gen, nullptr).forward(images), zeros({2, 6, 5, 2})), 0.0);
}

// ----------------------------------------------------------------- sharing

TEST(Perceiver, WeightSharingSharesParameters) {
  Generator gen(3);
  PerceiverOptions o = small_options();
  o.num_cross_attends = 1;
  o.num_blocks = 1;
  const int64_t one_block = Perceiver(o, gen, nullptr).num_parameters();
  o.num_blocks = 4;  // shared: the same 2 self-attends applied 4 times
  Perceiver shared(o, gen, nullptr);
  EXPECT_EQ(shared.num_parameters(), one_block);
  EXPECT_EQ(shared.encoder().num_self_attend_modules(), 2);
  o.share_blocks = false;
  Perceiver unshared(o, gen, nullptr);
  EXPECT_EQ(unshared.encoder().num_self_attend_modules(), 8);
  // One self-attend of 8 channels, 2 heads, widening 1: 2 LayerNorms, 4
  // projections and a 2-layer MLP.
  const int64_t self_attend = 2 * 16 + 4 * (8 * 8 + 8) + 2 * (8 * 8 + 8);
  EXPECT_EQ(unshared.num_parameters(), one_block + 6 * self_attend);

  // Cross-attends after the first share one module (the Perceiver paper).
  o.share_blocks = true;
  o.num_cross_attends = 4;
  Perceiver cross_shared(o, gen, nullptr);
  EXPECT_EQ(cross_shared.encoder().num_cross_attend_modules(), 2);
  o.share_cross_attends = false;
  Perceiver cross_unshared(o, gen, nullptr);
  EXPECT_EQ(cross_unshared.encoder().num_cross_attend_modules(), 4);
  // Cross-attend: LNs on 8 and 16 channels, q 8 -> 16, k, v 16 -> 16, out
  // 16 -> 8, MLP 8 -> 8 -> 8.
  const int64_t cross =
      16 + 32 + (8 * 16 + 16) + 2 * (16 * 16 + 16) + (16 * 8 + 8) + 16 + 2 * (8 * 8 + 8);
  EXPECT_EQ(cross_shared.num_parameters(), one_block + cross);
  EXPECT_EQ(cross_unshared.num_parameters(), one_block + 3 * cross);

  // A shared module's gradient sums its uses: it is nonzero for the shared
  // cross-attend that only blocks 1..3 use.
  Tensor loss = sum(square(cross_shared.forward(normal({2, 6, 5, 2}, 0, 1, gen))));
  loss.backward();
  for (const auto& [name, p] : cross_shared.named_parameters()) {
    ASSERT_TRUE(p.grad().defined()) << name;
  }
}

// ----------------------------------------------------------------- permutations

Tensor permute_rows(const Tensor& x, const std::vector<int64_t>& perm, int64_t dim) {
  return index_select(x, dim, from_vector(perm, {static_cast<int64_t>(perm.size())}));
}

TEST(Perceiver, CrossAttentionIsPermutationInvariantInKeysAndEquivariantInQueries) {
  NoGradGuard no_grad;
  Generator gen(4);
  PerceiverCrossAttention block({.heads = 2, .q_channels = 8, .kv_channels = 6}, 2, true, 0.0,
                                nullptr, gen);
  const Tensor q = normal({2, 5, 8}, 0, 1, gen), kv = normal({2, 9, 6}, 0, 1, gen);
  const Tensor out = block.forward(q, kv);
  const std::vector<int64_t> kv_perm = {3, 7, 0, 8, 1, 5, 2, 6, 4};
  EXPECT_LT(max_abs_diff(block.forward(q, permute_rows(kv, kv_perm, 1)), out), 1e-5);
  const std::vector<int64_t> q_perm = {4, 2, 0, 1, 3};
  EXPECT_LT(
      max_abs_diff(block.forward(permute_rows(q, q_perm, 1), kv), permute_rows(out, q_perm, 1)),
      1e-5);
}

TEST(Perceiver, WithoutPositionsTheModelIgnoresPixelOrder) {
  NoGradGuard no_grad;
  Generator gen(5);
  PerceiverOptions o = small_options();
  o.position = PerceiverPosition::kNone;
  Perceiver model(o, gen, nullptr);
  const Tensor images = normal({2, 6, 5, 2}, 0, 1, gen);
  const Tensor shuffled = reshape(
      permute_rows(reshape(images, {2, 30, 2}), data::epoch_permutation(30, {.seed = 9}, 0), 1),
      {2, 6, 5, 2});
  EXPECT_LT(max_abs_diff(model.forward(shuffled), model.forward(images)), 1e-5);
  // With Fourier positions the order matters.
  Perceiver fourier(small_options(), gen, nullptr);
  EXPECT_GT(max_abs_diff(fourier.forward(shuffled), fourier.forward(images)), 1e-4);
}

TEST(Perceiver, PositionsThatTravelWithThePixelsKeepTheOutput) {
  NoGradGuard no_grad;
  const std::vector<int64_t> perm = data::epoch_permutation(30, {.seed = 11}, 0);
  PerceiverOptions o = small_options();
  Generator gen_a(6), gen_b(6);
  Perceiver plain(o, gen_a, nullptr);
  o.position_permutation = perm;
  Perceiver permuted(o, gen_b, nullptr);
  Generator gen(7);
  const Tensor images = normal({2, 6, 5, 2}, 0, 1, gen);
  const Tensor shuffled = reshape(permute_rows(reshape(images, {2, 30, 2}), perm, 1), {2, 6, 5, 2});
  EXPECT_LT(max_abs_diff(permuted.forward(shuffled), plain.forward(images)), 1e-5);
  o.position_permutation = {0, 1, 2};
  EXPECT_THROW(Perceiver(o, gen, nullptr), Error);
}

// data.permute_pixels and model.permute_positions draw the same permutation:
// the Perceiver's logits on permuted data equal those on the original data.
TEST(Perceiver, DataPermutationMatchesModelPermutation) {
  NoGradGuard no_grad;
  auto logits = [](bool permute) {
    train::Json j = train::Json::parse(R"({
      "model": {"name": "perceiver", "num_latents": 4, "latent_channels": 8, "num_blocks": 1,
                "num_self_attends_per_block": 1, "self_attend_heads": 2, "num_bands": 2,
                "zero_init_head": false},
      "data": {"name": "synthetic_images", "image_shape": [5, 4, 2], "num_classes": 3,
               "num_examples": 8, "batch_size": 4, "shuffle": false, "prefetch": false}
    })");
    j["data"]["permute_pixels"] = permute;
    j["model"]["permute_positions"] = permute;
    absl::StatusOr<train::ExperimentConfig> config = train::parse_experiment(j, "test.json");
    EXPECT_TRUE(config.ok()) << config.status();
    absl::StatusOr<train::RunData> data = train::build_data(*config);
    EXPECT_TRUE(data.ok()) << data.status();
    Generator gen(3);
    auto model = train::build_model(
        "perceiver", config->model.options,
        {.input_shape = data->input_shape, .num_classes = data->num_classes, .init_gen = &gen},
        "test.json");
    EXPECT_TRUE(model.ok()) << model.status();
    const data::Batch batch = data->eval_batches->get(0);
    return std::make_pair((*model)->forward(batch.at(data::kImageKey)), batch.at(data::kImageKey));
  };
  const auto [plain, plain_images] = logits(false);
  const auto [permuted, permuted_images] = logits(true);
  EXPECT_GT(max_abs_diff(plain_images, permuted_images), 0.1);  // the pixels did move
  EXPECT_LT(max_abs_diff(plain, permuted), 1e-5);
}

// ----------------------------------------------------------------- configs

absl::StatusOr<std::shared_ptr<Model>> build(const std::string& name, const std::string& json,
                                             std::vector<int64_t> input_shape = {6, 5, 2}) {
  static Generator gen(0);
  return train::build_model(name, train::Json::parse(json),
                            {.input_shape = input_shape, .num_classes = 4, .init_gen = &gen},
                            "test.json");
}

TEST(PerceiverConfig, KeysAndErrors) {
  auto ok = build("perceiver_io", R"({"num_latents": 4, "latent_channels": 8, "num_blocks": 2,
      "num_self_attends_per_block": 1, "self_attend_heads": 2, "position": "learned",
      "query_channels": 4, "decoder_heads": 2})");
  ASSERT_TRUE(ok.ok()) << ok.status();
  // Token data: perceiver_io defaults to learned positions and the mlm decoder.
  auto mlm = build("perceiver_io", R"({"num_latents": 4, "latent_channels": 8, "num_blocks": 1,
      "num_self_attends_per_block": 1, "embed_dim": 8, "decoder_query_residual": false})",
                   {12});
  ASSERT_TRUE(mlm.ok()) << mlm.status();
  {
    NoGradGuard no_grad;
    EXPECT_EQ((*mlm)->forward(zeros({1, 12}, DType::kI64)).shape(), (Shape{1, 12, 262}));
  }
  const auto message = [](const absl::StatusOr<std::shared_ptr<Model>>& m) {
    return std::string(m.status().message());
  };
  auto typo = build("perceiver", R"({"num_latent": 4, "num_latents": 4, "latent_channels": 8,
      "num_blocks": 1, "num_self_attends_per_block": 1})");
  ASSERT_FALSE(typo.ok());
  EXPECT_NE(message(typo).find("num_latents"), std::string::npos) << message(typo);
  auto decoder = build("perceiver", R"({"decoder": "pooled"})");
  ASSERT_FALSE(decoder.ok());
  EXPECT_NE(message(decoder).find("model.decoder"), std::string::npos) << message(decoder);
  auto cross = build("perceiver", R"({"num_blocks": 2, "num_cross_attends": 3})");
  ASSERT_FALSE(cross.ok());
  EXPECT_NE(message(cross).find("num_cross_attends"), std::string::npos) << message(cross);
  auto heads = build("perceiver", R"({"latent_channels": 10, "self_attend_heads": 4,
      "num_latents": 2, "num_blocks": 1, "num_self_attends_per_block": 1})");
  ASSERT_FALSE(heads.ok());
  EXPECT_NE(message(heads).find("divisible"), std::string::npos) << message(heads);
  auto preset = build("perceiver", R"({"preset": "imagenet_xl"})");
  ASSERT_FALSE(preset.ok());
  EXPECT_NE(message(preset).find("imagenet"), std::string::npos) << message(preset);
}

// The presets' parameter counts (kiln info prints the same) against the
// papers: Perceiver 44.9M, Perceiver IO ImageNet 48.4M, Perceiver IO
// language (bytes) 201M. Counted from the options, without allocating.
int64_t count_parameters(const PerceiverOptions& o, int64_t input_channels) {
  auto lin = [](int64_t i, int64_t n) { return i * n + n; };
  auto cross = [&](int64_t q, int64_t kv, int64_t qk, int64_t v, int64_t widening) {
    qk = qk > 0 ? qk : kv;
    v = v > 0 ? v : qk;
    return 2 * q + 2 * kv + lin(q, qk) + lin(kv, qk) + lin(kv, v) + lin(v, q) + 2 * q +
           lin(q, widening * q) + lin(widening * q, q);
  };
  const int64_t d = o.latent_channels;
  const int64_t qk = o.self_attend_qk_channels > 0 ? o.self_attend_qk_channels : d;
  const int64_t v = o.self_attend_v_channels > 0 ? o.self_attend_v_channels : qk;
  const int64_t self = 4 * d + lin(d, qk) * 2 + lin(d, v) + lin(v, d) +
                       lin(d, o.self_attend_widening * d) + lin(o.self_attend_widening * d, d);
  const int64_t crosses =
      o.share_cross_attends ? std::min<int64_t>(o.num_cross_attends, 2) : o.num_cross_attends;
  int64_t n = o.num_latents * d +
              crosses * cross(d, input_channels, o.cross_attend_qk_channels,
                              o.cross_attend_v_channels, o.cross_attend_widening) +
              (o.share_blocks ? 1 : o.num_blocks) * o.num_self_attends_per_block * self;
  return n;
}

TEST(PerceiverPresets, ParameterCountsMatchThePapers) {
  PerceiverOptions p = perceiver_preset("imagenet");
  EXPECT_EQ(count_parameters(p, 261) + 1024 * 1000 + 1000, 44'912'254);  // 44.9M
  PerceiverOptions io = perceiver_preset("io_imagenet");
  const int64_t decoder = 1024 + 6'303'744 + 1024 * 1000 + 1000;
  EXPECT_EQ(count_parameters(io, 261) + decoder, 48'440'627);  // 48.4M
  PerceiverOptions lm = perceiver_preset("io_language");
  const int64_t input = 262 * 768 + 2048 * 768;
  const int64_t lm_decoder = 2048 * 768 + 3'286'016 + 262;
  EXPECT_EQ(count_parameters(lm, 768) + input + lm_decoder, 201'108'230);  // 201M
  EXPECT_THROW(perceiver_preset("nope"), Error);
}

TEST(PerceiverPresets, SmallPresetModelsBuild) {
  // The real presets are 45M-201M parameters (kiln info covers them); the
  // same code paths at a smaller width build and run here.
  NoGradGuard no_grad;
  Generator gen(8);
  PerceiverOptions lm = perceiver_preset("io_language");
  lm.input_shape = {16};
  lm.embed_dim = 16;
  lm.latent_channels = 32;
  lm.num_latents = 8;
  lm.num_self_attends_per_block = 2;
  lm.cross_attend_qk_channels = lm.self_attend_qk_channels = lm.decoder_qk_channels = 16;
  lm.cross_attend_v_channels = lm.self_attend_v_channels = 32;
  lm.decoder_v_channels = 16;
  Perceiver model(lm, gen, nullptr);
  EXPECT_EQ(model.forward(randint({2, 16}, 0, 262, gen)).shape(), (Shape{2, 16, 262}));
}

// ----------------------------------------------------------------- masked LM

TEST(MaskedLmTask, MaskingIsKeyedBySeedStepAndPosition) {
  using train::mask_bytes;
  using train::masking_key;
  const train::MaskedLmOptions o;
  Generator data_gen(1);
  const Tensor bytes = randint({16, 512}, 0, 256, data_gen);
  const train::MaskedBytes a = mask_bytes(bytes, o, masking_key(0, 5, false));
  const train::MaskedBytes b = mask_bytes(bytes, o, masking_key(0, 5, false));
  EXPECT_EQ(max_abs_diff(a.inputs, b.inputs), 0.0);
  EXPECT_EQ(max_abs_diff(a.targets, b.targets), 0.0);
  const train::MaskedBytes other = mask_bytes(bytes, o, masking_key(0, 6, false));
  EXPECT_GT(max_abs_diff(a.targets, other.targets), 0.0);
  const train::MaskedBytes eval = mask_bytes(bytes, o, masking_key(0, 5, true));
  EXPECT_GT(max_abs_diff(a.targets, eval.targets), 0.0);
  // A position's draw does not depend on the rest of the batch.
  const train::MaskedBytes first_row =
      mask_bytes(narrow(bytes, 0, 0, 1), o, masking_key(0, 5, false));
  EXPECT_EQ(max_abs_diff(first_row.inputs, narrow(a.inputs, 0, 0, 1)), 0.0);

  // 15% picked; of those 80% MASK, 10% random, 10% kept; targets are the
  // original ids exactly at the picked positions.
  const std::vector<double> in = to_vector(bytes), x = to_vector(a.inputs),
                            t = to_vector(a.targets);
  int64_t picked = 0, masked = 0, kept = 0, unpicked_changed = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    const double id = in[i] + bytes_tokenizer::kNumReserved;
    if (t[i] == -100) {
      unpicked_changed += x[i] != id;
      continue;
    }
    ++picked;
    EXPECT_EQ(t[i], id);
    masked += x[i] == bytes_tokenizer::kMask;
    kept += x[i] == id;
  }
  EXPECT_EQ(unpicked_changed, 0);
  EXPECT_EQ(picked, a.picked);
  const double n = static_cast<double>(in.size());
  EXPECT_NEAR(picked / n, 0.15, 0.01);
  EXPECT_NEAR(masked / static_cast<double>(picked), 0.8, 0.03);
  // Kept: 10% plus the random replacements that drew the same byte.
  EXPECT_NEAR(kept / static_cast<double>(picked), 0.1 + 0.1 / 256, 0.03);
  EXPECT_THROW(mask_bytes(full({1, 3}, 256, DType::kI64), o, masking_key(0, 1, false)), Error);
}

}  // namespace
}  // namespace kiln::models
