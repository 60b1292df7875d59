// Slowfast NFNet (HARES): shapes of every pathway option, gradient checks of
// a lateral fusion plus the stage block it feeds and of the whole tiny model
// (both normalisations, all pathway options), and the BatchNorm module.
#include <gtest/gtest.h>

#include <filesystem>

#include "kiln/autograd/grad_mode.h"
#include "kiln/models/slowfast_nfnet/slowfast_nfnet.h"
#include "kiln/ops/binary.h"
#include "kiln/ops/inplace.h"
#include "kiln/ops/random.h"
#include "kiln/ops/reduce.h"
#include "kiln/ops/shape.h"
#include "kiln/train/checkpoint.h"
#include "support/gradcheck.h"

namespace kiln::models {
namespace {

using testing::gradcheck_function;
using testing::module_to_f64;

SlowFastNFNetOptions tiny(const std::string& pathways, const std::string& normalization) {
  SlowFastNFNetOptions o = slowfast_nfnet_preset("tiny");
  o.pathways = pathways;
  o.normalization = normalization;
  return o;
}

// f64 parameters, and the zero-initialised residual gains (skip_gain, the
// BN blocks' last scale) set to 0.5 so every branch gets a gradient.
void prepare_for_gradcheck(nn::Module& model) {
  module_to_f64(model);
  NoGradGuard no_grad;
  for (auto& [name, t] : model.named_parameters()) {
    if (name.ends_with("skip_gain") || name.ends_with("conv2.bn.scale")) fill_(t, 0.5);
  }
}

nn::NamedTensors with_input(nn::NamedTensors params, const Tensor& x) {
  params.emplace_back("input", x);
  return params;
}

TEST(SlowFastNFNet, EmbeddingShapesForEveryPathwayOption) {
  for (const std::string pathways : {"slowfast", "slow_only", "fast_only"}) {
    for (const std::string norm : {"none", "batch_norm"}) {
      Generator gen(0);
      SlowFastNFNet model(tiny(pathways, norm), gen, std::make_shared<Generator>(1));
      Generator data(2);
      // T = 15 is not a multiple of the strides: SAME rounding must agree.
      const Tensor x = normal({3, 15, 8, 1}, 0, 1, data);
      const Tensor e = model.forward(x);
      ASSERT_EQ(e.shape(), (Shape{3, model.embedding_size()})) << pathways << " " << norm;
      // tiny: slow final 32 channels, fast 32 / 4.
      const int64_t want = (pathways != "fast_only" ? 32 : 0) + (pathways != "slow_only" ? 8 : 0);
      EXPECT_EQ(model.embedding_size(), want) << pathways;
      EXPECT_EQ(model.fast() == nullptr, pathways == "slow_only");
      EXPECT_EQ(model.slow() == nullptr, pathways == "fast_only");
    }
  }
}

TEST(SlowFastNFNet, HeadsAndLateralNames) {
  Generator gen(0);
  SlowFastNFNetOptions o = tiny("slowfast", "none");
  o.slow.num_classes = 5;
  SlowFastNFNet classifier(o, gen, std::make_shared<Generator>(1));
  Generator data(2);
  const Tensor x = normal({2, 16, 8, 1}, 0, 1, data);
  EXPECT_EQ(classifier.forward(x).shape(), (Shape{2, 5}));
  std::set<std::string> names;
  for (auto& [name, t] : classifier.named_parameters()) names.insert(name);
  EXPECT_TRUE(names.count("laterals.0.weight"));
  EXPECT_TRUE(names.count("laterals.1.weight"));
  EXPECT_TRUE(names.count("slow.stages.1.blocks.0.conv_shortcut.weight"));
  EXPECT_TRUE(names.count("fast.final_conv.gain"));
  EXPECT_TRUE(names.count("head.weight"));
  o.projection = {16, 8};
  SlowFastNFNet simclr(o, gen, std::make_shared<Generator>(1));
  EXPECT_EQ(simclr.forward(x).shape(), (Shape{2, 8}));
}

// The lateral fusion of stage 1 and the slow stage it feeds, with respect to
// both streams and every parameter on the way.
TEST(SlowFastNFNetGradcheck, LateralFusionAndBlock) {
  for (const std::string norm : {"none", "batch_norm"}) {
    Generator gen(0);
    SlowFastNFNet model(tiny("slowfast", norm), gen, nullptr);
    prepare_for_gradcheck(model);
    Generator data(3);
    // Stage 1 input: slow (N, 2, 2, 16), fast (N, 4, 2, 4) (time_stride 2).
    const Tensor slow = normal({2, 2, 2, 16}, 0, 1, data, DType::kF64).set_requires_grad(true);
    const Tensor fast = normal({2, 4, 2, 4}, 0, 1, data, DType::kF64).set_requires_grad(true);
    nn::NamedTensors wrt = {{"slow", slow}, {"fast", fast}};
    for (auto& [name, t] : model.named_parameters()) {
      if (name.starts_with("laterals.1.") || name.starts_with("slow.stages.1.")) {
        wrt.emplace_back(name, t);
      }
    }
    const std::string err = gradcheck_function(
        [&] { return model.slow()->stage(1, model.fuse(1, slow, fast)); }, wrt, 5);
    EXPECT_EQ(err, "") << norm;
  }
}

// Every pathway option, projection head included, with respect to every
// parameter (one random direction per module) and the input.
void check_whole_model(const std::string& norm) {
  for (const std::string pathways : {"slowfast", "slow_only", "fast_only"}) {
    Generator gen(0);
    SlowFastNFNetOptions o = tiny(pathways, norm);
    o.projection = {6};
    SlowFastNFNet model(o, gen, nullptr);
    prepare_for_gradcheck(model);
    Generator data(4);
    const Tensor x = normal({2, 8, 4, 1}, 0, 1, data, DType::kF64).set_requires_grad(true);
    const std::string err = gradcheck_function([&] { return model.forward(x); },
                                               with_input(model.named_parameters(), x), 3);
    EXPECT_EQ(err, "") << pathways << " " << norm;
  }
}

TEST(SlowFastNFNetGradcheck, WholeTinyModelNormalizerFree) { check_whole_model("none"); }
TEST(SlowFastNFNetGradcheck, WholeTinyModelBatchNorm) { check_whole_model("batch_norm"); }

// The checker itself: a function whose recorded gradient is half the true
// one (x * detach(x)) must fail.
TEST(SlowFastNFNetGradcheck, CheckerCatchesAWrongGradient) {
  Generator data(5);
  const Tensor x = normal({3, 2}, 0, 1, data, DType::kF64).set_requires_grad(true);
  EXPECT_NE(gradcheck_function([&] { return mul(x, x.detach()); }, {{"x", x}}), "");
  EXPECT_EQ(gradcheck_function([&] { return mul(x, x); }, {{"x", x}}), "");
}

// The NF lateral's output is scaled to the slow stream's expected std, so the
// concatenated channels enter the next transition block with one variance
// (its beta). Residual branches switched on (skip_gain 1) so the streams grow.
TEST(SlowFastNFNet, LateralMatchesTheSlowStreamVariance) {
  SlowFastNFNetOptions o = tiny("slowfast", "none");
  o.slow.depths = {3, 1};
  Generator gen(0);
  SlowFastNFNet model(o, gen, nullptr);
  {
    NoGradGuard no_grad;
    for (auto& [name, t] : model.named_parameters()) {
      if (name.ends_with("skip_gain")) fill_(t, 1.0);
    }
  }
  NoGradGuard no_grad;
  Generator data(1);
  const Tensor x = normal({16, 32, 16, 1}, 0, 1, data);
  Tensor slow = model.slow()->stage(
      0, model.fuse(0, model.slow()->stem(slice(x, 1, 0, 32, 2)), model.fast()->stem(x)));
  const Tensor fast = model.fast()->stage(0, model.fast()->stem(x));
  const Tensor fused = model.fuse(1, slow, fast);  // (N, t, f, 16 + 2 * 4)
  const double slow_var = mean(var(narrow(fused, 3, 0, 16), {0, 1, 2})).item<double>();
  const double lateral_var = mean(var(narrow(fused, 3, 16, 8), {0, 1, 2})).item<double>();
  // Expected std after a transition and two more blocks: sqrt(1 + 3 alpha^2).
  const double expected = 1 + 3 * 0.2 * 0.2;
  EXPECT_NEAR(slow_var / expected, 1.0, 0.5) << slow_var;
  EXPECT_NEAR(lateral_var / expected, 1.0, 0.5) << lateral_var;
  EXPECT_NEAR(lateral_var / slow_var, 1.0, 0.25);  // measured 1.08
}

TEST(BatchNormModule, TrainUsesBatchStatisticsAndUpdatesRunningStats) {
  nn::BatchNorm bn({.channels = 2, .eps = 0.0, .momentum = 0.5});
  // Channel 0: 1, 3 (mean 2, population var 1); channel 1: 10, 10.
  const Tensor x = from_vector(std::vector<double>{1, 10, 3, 10}, {2, 2});
  const std::vector<double> y = to_vector(bn.forward(x));
  EXPECT_NEAR(y[0], -1.0, 1e-6);
  EXPECT_NEAR(y[2], 1.0, 1e-6);
  EXPECT_EQ(to_vector(bn.running_mean()), (std::vector<double>{1.0, 5.0}));
  EXPECT_EQ(to_vector(bn.running_var()), (std::vector<double>{1.0, 0.5}));
  EXPECT_EQ(bn.named_buffers().size(), 2u);
  bn.eval();
  // (x - running_mean) / sqrt(running_var): channel 0 of 2.5 -> 1.5 / sqrt(1.0).
  const std::vector<double> z =
      to_vector(bn.forward(from_vector(std::vector<double>{2.5, 5.5}, {1, 2})));
  EXPECT_NEAR(z[0], 1.5, 1e-6);
  EXPECT_NEAR(z[1], 0.5 / std::sqrt(0.5), 1e-6);
  // Eval leaves the running statistics alone.
  EXPECT_EQ(to_vector(bn.running_mean()), (std::vector<double>{1.0, 5.0}));
}

TEST(BatchNormModule, RunningStatsSurviveACheckpointRoundTrip) {
  Generator gen(0);
  SlowFastNFNet model(tiny("slowfast", "batch_norm"), gen, nullptr);
  Generator data(1);
  model.forward(add_scalar(normal({2, 8, 4, 1}, 0, 2, data), 3.0));  // moves the running stats
  const auto dir = std::filesystem::path(::testing::TempDir()) / "kiln_bn_checkpoint";
  std::filesystem::remove_all(dir);
  train::CheckpointManager manager(dir.string(), 1);
  ASSERT_TRUE(manager.save({.step = 1, .groups = {{"model", model.state_dict()}}}).ok());
  Generator gen2(7);
  SlowFastNFNet restored(tiny("slowfast", "batch_norm"), gen2, nullptr);
  const absl::StatusOr<int64_t> step = train::load_module_weights(restored, dir.string());
  ASSERT_TRUE(step.ok()) << step.status();
  const auto want = model.named_buffers();
  const auto got = restored.named_buffers();
  ASSERT_EQ(want.size(), got.size());
  ASSERT_GT(want.size(), 10u);
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(want[i].first, got[i].first);
    EXPECT_EQ(to_vector(want[i].second), to_vector(got[i].second)) << want[i].first;
  }
  model.eval();
  restored.eval();
  const Tensor x = normal({2, 8, 4, 1}, 0, 1, data);
  EXPECT_EQ(to_vector(model.forward(x)), to_vector(restored.forward(x)));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace kiln::models
