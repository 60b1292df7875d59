// NFNet family: parameter counts of the published presets, the structure
// the official code prescribes (beta, stochastic depth rates, names, SAME
// shapes), Scaled Weight Standardisation, stochastic depth and signal
// propagation at initialisation.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <regex>
#include <set>

#include "kiln/autograd/grad_mode.h"
#include "kiln/models/nfnet/nf_resnet.h"
#include "kiln/models/nfnet/nfnet.h"
#include "kiln/ops/binary.h"
#include "kiln/ops/inplace.h"
#include "kiln/ops/random.h"
#include "kiln/ops/reduce.h"
#include "kiln/ops/unary.h"
#include "kiln/optim/param_groups.h"

namespace kiln::models {
namespace {

NFNetOptions variant_at(const std::string& name, int64_t classes) {
  NFNetOptions o = nfnet_variant(name);
  o.num_classes = classes;
  return o;
}

// The papers' counts at 1000 classes (2102.06171 Table; README), to 0.1M.
TEST(NFNetParams, FSeriesMatchThePaper) {
  const std::map<std::string, double> paper = {{"F0", 71.5},  {"F1", 132.6}, {"F2", 193.8},
                                               {"F3", 254.9}, {"F4", 316.1}, {"F5", 377.2},
                                               {"F6", 438.4}};
  for (const auto& [name, millions] : paper) {
    const double count = static_cast<double>(nfnet_num_parameters(variant_at(name, 1000)));
    EXPECT_NEAR(count / 1e6, millions, 0.05) << name;
  }
  // Exact counts from the benchmark spec (benchmarks.md B1).
  EXPECT_EQ(nfnet_num_parameters(variant_at("F0", 1000)), 71489284);
  EXPECT_EQ(nfnet_num_parameters(variant_at("F0", 10)), 68447014);
  // F7 continues the pattern (depths [8, 16, 48, 24]); the + variants are wider.
  EXPECT_GT(nfnet_num_parameters(variant_at("F7", 1000)),
            nfnet_num_parameters(variant_at("F6", 1000)));
  for (int i = 0; i <= 7; ++i) {
    const std::string name = "F" + std::to_string(i);
    EXPECT_GT(nfnet_num_parameters(variant_at(name + "+", 1000)),
              nfnet_num_parameters(variant_at(name, 1000)))
        << name;
  }
}

TEST(NFNetParams, ConstructedF0MatchesTheCounter) {
  Generator gen(0);
  NFNet model(variant_at("F0", 1000), gen, std::make_shared<Generator>(1));
  EXPECT_EQ(model.num_parameters(), 71489284);
}

TEST(NFNetParams, CounterMatchesConstructedSmallModels) {
  std::vector<NFNetOptions> cases;
  NFNetOptions a = variant_at("F1", 7);
  a.width_multiplier = 0.0625;
  a.depth_multiplier = 0.5;
  a.in_channels = 1;
  cases.push_back(a);
  NFNetOptions b = variant_at("F0+", 3);
  b.width_multiplier = 0.125;
  b.use_two_convs = false;
  b.se_ratio = 0;
  b.final_conv_mult = 1.5;
  cases.push_back(b);
  NFNetOptions c = variant_at("F0", 10);
  c.widths = {8, 12, 20};
  c.depths = {2, 1, 3};
  c.strides = {1, 2, 2};
  c.stem_channels = {4, 6};
  c.stem_strides = {1, 2};
  c.group_width = 0;  // ungrouped
  cases.push_back(c);
  for (size_t i = 0; i < cases.size(); ++i) {
    Generator gen(0);
    NFNet model(cases[i], gen, std::make_shared<Generator>(1));
    EXPECT_EQ(model.num_parameters(), nfnet_num_parameters(cases[i])) << "case " << i;
  }
  for (const char* name : {"ResNet50", "ResNet101"}) {
    for (bool se : {false, true}) {
      NFResNetOptions o = nf_resnet_variant(name);
      o.width_multiplier = 0.125;
      o.use_se = se;
      o.num_classes = 10;
      Generator gen(0);
      NFResNet model(o, gen, std::make_shared<Generator>(1));
      EXPECT_EQ(model.num_parameters(), nf_resnet_num_parameters(o)) << name << " se " << se;
    }
  }
}

// NF-ResNets (2101.08692): ResNet's convs, each with a gain and a bias per
// output channel instead of BatchNorm's scale and offset, a skip gain per
// block.
TEST(NFNetParams, NFResNets) {
  std::map<std::string, int64_t> counts;
  for (const char* name : {"ResNet50", "ResNet101", "ResNet152", "ResNet200"}) {
    counts[name] = nf_resnet_num_parameters(nf_resnet_variant(name));
  }
  // torchvision's BN-ResNets (BN scale + offset = 2 per conv channel, like
  // gain + bias here) plus one skip gain per block.
  EXPECT_EQ(counts["ResNet50"], 25557032 + 16);
  EXPECT_EQ(counts["ResNet101"], 44549160 + 33);
  EXPECT_EQ(counts["ResNet152"], 60192808 + 50);
  EXPECT_NEAR(static_cast<double>(counts["ResNet200"]) / 1e6, 64.7, 0.1);
}

TEST(NFNetPlan, BetaAndStochasticDepthAsTheOfficialLoop) {
  NFNetOptions o = variant_at("F0", 10);
  o.stochdepth_rate = 0.25;
  const NFNetPlan plan = nfnet_plan(o);
  ASSERT_EQ(plan.stages.size(), 4u);
  const double a2 = 0.2 * 0.2;
  // Stage 0: one block with beta 1; each transition block then sees the std
  // grown over the previous stage, which restarts at sqrt(1 + alpha^2).
  std::vector<double> expected_beta = {1.0, 1 / std::sqrt(1 + a2), 1 / std::sqrt(1 + a2),
                                       1 / std::sqrt(1 + 2 * a2)};
  for (int b = 1; b < 6; ++b) expected_beta.push_back(1 / std::sqrt(1 + b * a2));
  expected_beta.push_back(1 / std::sqrt(1 + 6 * a2));  // stage 3's transition
  expected_beta.push_back(1 / std::sqrt(1 + a2));
  expected_beta.push_back(1 / std::sqrt(1 + 2 * a2));
  std::vector<NFBlockOptions> blocks;
  for (const auto& stage : plan.stages) blocks.insert(blocks.end(), stage.begin(), stage.end());
  ASSERT_EQ(blocks.size(), 12u);
  for (size_t i = 0; i < blocks.size(); ++i) {
    EXPECT_NEAR(blocks[i].beta, expected_beta[i], 1e-12) << "block " << i;
    EXPECT_NEAR(blocks[i].stochdepth_rate, 0.25 * static_cast<double>(i) / 12, 1e-15);
  }
  EXPECT_EQ(blocks[0].in_channels, 128);  // stem: widths[0] / 2
  EXPECT_EQ(blocks[1].stride, 2);
  EXPECT_EQ(blocks[2].stride, 1);
  EXPECT_EQ(nf_block_width(blocks[11]).width, 768);
  EXPECT_EQ(nf_block_width(blocks[11]).groups, 6);
  EXPECT_EQ(plan.final_channels, 3072);
}

TEST(NFNetPlan, MultipliersAndErrors) {
  NFNetOptions o = variant_at("F1", 10);
  o.width_multiplier = 0.25;
  o.depth_multiplier = 0.5;
  const NFNetPlan plan = nfnet_plan(o);
  EXPECT_EQ(plan.stem_channels, (std::vector<int64_t>{4, 8, 16, 32}));
  EXPECT_EQ(plan.stages[2].size(), 6u);
  EXPECT_EQ(plan.stages[2][0].out_channels, 384);
  EXPECT_EQ(plan.stages[2][0].group_width, 32);
  NFNetOptions bad = variant_at("F0", 10);
  bad.group_width = 1024;  // 768 bottleneck channels in groups of 1024: zero groups
  EXPECT_THROW(nfnet_plan(bad), Error);
  bad = variant_at("F0", 10);
  bad.depths = {1, 2};
  EXPECT_THROW(nfnet_plan(bad), Error);
  EXPECT_THROW(nfnet_variant("F8"), Error);
}

TEST(NFNet, NamesShapesAndGroups) {
  NFNetOptions o = variant_at("F0", 10);
  o.width_multiplier = 0.0625;
  o.in_channels = 1;
  Generator gen(0);
  NFNet model(o, gen, std::make_shared<Generator>(1));
  std::set<std::string> names;
  for (const auto& [name, t] : model.named_parameters()) names.insert(name);
  for (const char* name :
       {"stem.conv0.weight", "stem.conv3.gain", "stages.0.blocks.0.conv0.bias",
        "stages.0.blocks.0.conv_shortcut.weight", "stages.1.blocks.1.conv1b.weight",
        "stages.2.blocks.5.se.fc1.bias", "stages.3.blocks.2.skip_gain", "final_conv.gain",
        "head.weight", "head.bias"}) {
    EXPECT_TRUE(names.count(name)) << name;
  }
  EXPECT_FALSE(names.count("stages.1.blocks.1.conv_shortcut.weight"));
  // The NFNets partition: weight decay off gains / biases, AGC off the head weight.
  const optim::ParamGroups groups(model.named_parameters(), optim::nfnet_group_rules());
  const optim::ParamRef& skip = groups.params()[groups.find("stages.3.blocks.2.skip_gain")];
  EXPECT_EQ(groups.group_of(skip).weight_decay, 0.0);
  EXPECT_FALSE(groups.group_of(groups.params()[groups.find("head.weight")]).agc);

  // 28x28: stem /4 -> 7, stages /2 /2 /2 -> 1 (SAME rounds up).
  const Tensor logits = model.forward(normal({2, 28, 28, 1}, 0, 1, gen));
  EXPECT_EQ(logits.shape(), (Shape{2, 10}));
  // SkipInit and the 0.01 head: logits start near zero.
  EXPECT_LT(max(abs(logits)).item_as_double(), 0.5);
}

TEST(WSConv2d, StandardizesPerOutputChannel) {
  Generator gen(3);
  WSConv2d conv({.in_channels = 6, .out_channels = 4, .kernel = {3, 3}, .groups = 2}, gen);
  NoGradGuard no_grad;
  const Tensor w = conv.standardized_weight();  // (3, 3, 3, 4), fan-in 27
  const std::vector<double> m = to_vector(mean(w, {0, 1, 2}));
  const std::vector<double> ss = to_vector(sum(square(w), {0, 1, 2}));
  for (int o = 0; o < 4; ++o) {
    EXPECT_NEAR(m[o], 0.0, 1e-6);
    EXPECT_NEAR(ss[o], 1.0, 1e-5);  // sum (w - mean)^2 / (N var) = 1
  }
  // A constant filter has N * var = 0 < eps: the floor keeps it finite (zero).
  Tensor raw = conv.weight();
  fill_(raw, 0.25);
  EXPECT_EQ(max(abs(conv.standardized_weight())).item_as_double(), 0.0);
}

TEST(WSConv2d, GradientsFlowThroughTheStandardisation) {
  Generator gen(4);
  WSConv2d conv({.in_channels = 3, .out_channels = 2, .kernel = {3, 3}}, gen);
  const Tensor x = normal({1, 5, 5, 3}, 0, 1, gen);
  sum(square(conv.forward(x))).backward();
  // The standardised weight is invariant to shifting and scaling a filter,
  // so the raw weight's gradient is orthogonal to both: per output channel
  // it sums to 0 and is orthogonal to the weight itself.
  const Tensor g = conv.weight().grad();
  const std::vector<double> gsum = to_vector(sum(g, {0, 1, 2}));
  const std::vector<double> gw = to_vector(sum(mul(g, conv.weight()), {0, 1, 2}));
  const std::vector<double> gnorm = to_vector(norm(g, {0, 1, 2}));
  for (int o = 0; o < 2; ++o) {
    EXPECT_GT(gnorm[o], 1e-3);
    EXPECT_NEAR(gsum[o], 0.0, 1e-4 * gnorm[o] * 10);
    EXPECT_NEAR(gw[o], 0.0, 1e-4 * gnorm[o] * 10);
  }
  EXPECT_TRUE(conv.gain().grad().defined());
}

TEST(StochasticDepth, PerSampleWithoutRescaling) {
  auto gen = std::make_shared<Generator>(9);
  StochasticDepth sd(0.3, gen);
  const Tensor x = ones({2000, 2, 2, 3});
  const std::vector<double> y = to_vector(sd.forward(x));
  int kept = 0;
  for (int n = 0; n < 2000; ++n) {
    const double first = y[n * 12];
    EXPECT_TRUE(first == 0.0 || first == 1.0) << first;  // no 1 / keep scaling
    for (int k = 1; k < 12; ++k) ASSERT_EQ(y[n * 12 + k], first) << "sample " << n;
    kept += first == 1.0;
  }
  EXPECT_NEAR(kept / 2000.0, 0.7, 0.04);
  // The same generator state gives the same mask (resumable runs).
  auto replay = std::make_shared<Generator>(9);
  StochasticDepth sd2(0.3, replay);
  EXPECT_EQ(to_vector(sd2.forward(x)), y);
  sd.eval();
  EXPECT_EQ(to_vector(sd.forward(x)), to_vector(x));
}

// 2101.08692: with a skip gain of 1 (no SkipInit), the variance of a deep
// NF-ResNet's activations grows as 1 + k alpha^2 within a stage and returns
// to about 1 + alpha^2 at each transition; the residual branches keep unit
// variance (weight standardisation + gamma-scaled ReLU + beta).
TEST(NFResNetSignal, VarianceStaysOrderOneAtInit) {
  NFResNetOptions o = nf_resnet_variant("ResNet101");
  o.width_multiplier = 0.25;
  o.num_classes = 10;
  o.skip_gain_init = 1.0;
  o.stochdepth_rate = 0;
  Generator gen(5);
  NFResNet model(o, gen, std::make_shared<Generator>(1));
  NoGradGuard no_grad;
  std::vector<BlockSignal> signals;
  model.forward(normal({4, 64, 64, 3}, 0, 1, gen), &signals);
  ASSERT_EQ(signals.size(), 33u);
  size_t i = 0;
  for (int64_t depth : o.depths) {
    for (int64_t b = 0; b < depth; ++b, ++i) {
      SCOPED_TRACE(i);
      const double predicted = 1 + 0.04 * static_cast<double>(b + 1);
      // Measured: within 12% of the prediction; residual variances 0.5 to 1.
      EXPECT_GT(signals[i].avg_var, 0.75 * predicted);
      EXPECT_LT(signals[i].avg_var, 1.25 * predicted);
      EXPECT_GT(signals[i].residual_avg_var, 0.3);
      EXPECT_LT(signals[i].residual_avg_var, 2.0);
      EXPECT_LT(signals[i].avg_sq_mean, 0.2);
    }
  }
}

}  // namespace
}  // namespace kiln::models
