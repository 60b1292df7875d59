// Signal propagation at initialisation (2101.08692, section 4): what the
// paper claims of NF-ResNets, measured on a small one with the per-block
// observer (NFResNet::forward with a BlockSignal list).
//   - With Scaled WS: the variance of a transition block's output is
//     1 + alpha^2 (the expected variance is reset: its shortcut is a conv of
//     the beta-scaled, unit-variance input), then grows by alpha^2 per block
//     within the stage; the residual branches keep unit variance; the mean
//     stays near 0.
//   - Without WS (a plain conv with the same He-initialised weights): the
//     channel means shift and the squared mean grows with depth, far above
//     the WS network's.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>

#include "kiln/autograd/grad_mode.h"
#include "kiln/models/nfnet/nf_resnet.h"
#include "kiln/ops/random.h"

namespace kiln::models {
namespace {

NFResNetOptions small_nf_resnet(bool weight_standardization) {
  NFResNetOptions o;
  o.num_classes = 10;
  o.stem_channels = 32;
  o.widths = {128, 256};
  o.depths = {8, 8};
  o.strides = {1, 2};
  o.skip_gain_init = 1.0;  // no SkipInit: the residual branches contribute at init
  o.stochdepth_rate = 0;
  o.weight_standardization = weight_standardization;
  return o;
}

std::vector<BlockSignal> signals_at_init(const NFResNetOptions& o, uint64_t seed) {
  Generator gen(seed);
  NFResNet model(o, gen, std::make_shared<Generator>(1));
  model.eval();
  NoGradGuard no_grad;
  std::vector<BlockSignal> signals;
  // A Gaussian batch: 128 x 16 x 16 positions per channel in stage 0 after
  // the stride-4 stem, 128 x 8 x 8 in stage 1 (much smaller maps lose
  // variance to the 3x3 convs' zero padding).
  Generator data(seed + 100);
  model.forward(normal({128, 64, 64, 3}, 0, 1, data), &signals);
  return signals;
}

// Least-squares slope of y against 0, 1, 2, ...
double slope(const std::vector<double>& y) {
  const double n = static_cast<double>(y.size());
  const double mx = (n - 1) / 2;
  const double my = std::accumulate(y.begin(), y.end(), 0.0) / n;
  double sxy = 0, sxx = 0;
  for (size_t i = 0; i < y.size(); ++i) {
    sxy += (static_cast<double>(i) - mx) * (y[i] - my);
    sxx += (static_cast<double>(i) - mx) * (static_cast<double>(i) - mx);
  }
  return sxy / sxx;
}

TEST(NFResNetSpp, VarianceResetsAtTransitionsAndGrowsByAlphaSquared) {
  const NFResNetOptions o = small_nf_resnet(true);
  const double a2 = o.alpha * o.alpha;
  const std::vector<BlockSignal> s = signals_at_init(o, 3);
  ASSERT_EQ(s.size(), 16u);
  for (int stage = 0; stage < 2; ++stage) {
    SCOPED_TRACE(stage);
    const size_t first = 8 * static_cast<size_t>(stage);
    // The transition block: 1 + alpha^2 = 1.04, whatever the previous stage reached.
    EXPECT_NEAR(s[first].avg_var, 1 + a2, 0.12);
    std::vector<double> vars;
    for (size_t b = first; b < first + 8; ++b) {
      SCOPED_TRACE(b);
      vars.push_back(s[b].avg_var);
      // Block k of the stage: 1 + (k + 1) alpha^2.
      EXPECT_NEAR(s[b].avg_var, 1 + static_cast<double>(b - first + 1) * a2, 0.15);
      EXPECT_NEAR(s[b].residual_avg_var, 1.0, 0.35);
      EXPECT_LT(s[b].avg_sq_mean, 0.1);
    }
    // The growth per block, fitted over the stage: alpha^2 = 0.04.
    EXPECT_NEAR(slope(vars), a2, 0.4 * a2);
  }
  // The reset: the second stage's transition is back near 1 + alpha^2, well
  // below the end of the first stage (1 + 8 alpha^2 = 1.32).
  EXPECT_LT(s[8].avg_var, s[7].avg_var - 3 * a2);
}

TEST(NFResNetSpp, WithoutWeightStandardisationTheMeanShiftGrows) {
  const std::vector<BlockSignal> ws = signals_at_init(small_nf_resnet(true), 3);
  const std::vector<BlockSignal> plain = signals_at_init(small_nf_resnet(false), 3);
  ASSERT_EQ(plain.size(), ws.size());
  // The squared channel mean builds up with depth (ReLU outputs have a
  // positive mean that an unstandardised conv passes on as a random
  // per-channel shift) ...
  double early = 0, late = 0;
  for (size_t b = 0; b < 4; ++b) early += plain[b].avg_sq_mean / 4;
  for (size_t b = plain.size() - 4; b < plain.size(); ++b) late += plain[b].avg_sq_mean / 4;
  EXPECT_GT(late, 2 * early);
  // ... and dwarfs the WS network's, whose means stay near 0.
  EXPECT_GT(plain.back().avg_sq_mean, 10 * ws.back().avg_sq_mean);
  EXPECT_GT(plain.back().avg_sq_mean, 0.5);
}

}  // namespace
}  // namespace kiln::models
