// Learning-rate schedules at key steps, against the official NFNets form.
#include "kiln/optim/schedule.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <string>

#include "kiln/core/error.h"

namespace kiln::optim {
namespace {

constexpr double kPi = std::numbers::pi;

TEST(Schedule, Constant) {
  const Schedule s = Schedule::constant(0.3);
  EXPECT_EQ(s(0), 0.3);
  EXPECT_EQ(s(1'000'000), 0.3);
  EXPECT_EQ(s.kind(), Schedule::Kind::kConstant);
}

// peak 1.6, warmup 10, total 110 (cosine over 100 steps), end 0.
TEST(Schedule, WarmupCosineKeySteps) {
  const Schedule s = Schedule::warmup_cosine(1.6, 10, 110);
  EXPECT_DOUBLE_EQ(s(0), 0.0);  // NFNets' first step has lr 0
  EXPECT_DOUBLE_EQ(s(1), 0.16);
  EXPECT_DOUBLE_EQ(s(5), 0.8);
  EXPECT_DOUBLE_EQ(s(10), 1.6);                               // the peak
  EXPECT_DOUBLE_EQ(s(11), 0.8 * (1 + std::cos(kPi * 0.01)));  // cosine starts
  EXPECT_DOUBLE_EQ(s(35), 0.8 * (1 + std::cos(kPi / 4)));
  EXPECT_NEAR(s(60), 0.8, 1e-15);  // halfway
  EXPECT_NEAR(s(109), 0.8 * (1 + std::cos(kPi * 0.99)), 1e-15);
  EXPECT_NEAR(s(110), 0.0, 1e-15);  // reaches end at total
  EXPECT_EQ(s(200), s(110));        // and holds
}

TEST(Schedule, WarmupCosineWithStartAndEndValues) {
  const Schedule s = Schedule::warmup_cosine(1.0, 4, 14, /*end_value=*/0.1, /*start_value=*/0.2);
  EXPECT_DOUBLE_EQ(s(0), 0.2);
  EXPECT_DOUBLE_EQ(s(2), 0.6);
  EXPECT_DOUBLE_EQ(s(4), 1.0);
  EXPECT_DOUBLE_EQ(s(9), 0.1 + 0.45 * (1 + std::cos(kPi * 0.5)));
  EXPECT_NEAR(s(14), 0.1, 1e-15);
  EXPECT_NEAR(s(15), 0.1, 1e-15);
}

// The NFNets ImageNet config: batch 4096, 360 epochs, 5 warmup epochs (a
// fractional step count), lr 0.1 * 4096 / 256.
TEST(Schedule, NfnetsImagenetConfig) {
  const double steps_per_epoch = 1281167.0 / 4096.0;
  const double warmup = 5 * steps_per_epoch;  // 1563.92...
  const int64_t total = 1281167LL * 360 / 4096;
  const double peak = 0.1 * 4096 / 256;
  const Schedule s = Schedule::warmup_cosine(peak, warmup, total);
  // warmup_steps < t selects the cosine: step 1563 still warms up, 1564 decays.
  EXPECT_DOUBLE_EQ(s(1563), peak * 1563 / warmup);
  EXPECT_LT(s(1563), peak);
  const double x = (1564 - warmup) / (total - warmup);
  EXPECT_DOUBLE_EQ(s(1564), 0.5 * peak * (1 + std::cos(kPi * x)));
  EXPECT_LT(s(total - 1), 1e-6);
  EXPECT_GT(s(total - 1), 0.0);
}

TEST(Schedule, WarmupEdgeCases) {
  // No warmup: the peak at step 0 (the official form would give 0/0).
  const Schedule none = Schedule::warmup_cosine(2.0, 0, 100);
  EXPECT_DOUBLE_EQ(none(0), 2.0);
  EXPECT_DOUBLE_EQ(none(50), 1.0 * (1 + std::cos(kPi * 0.5)));
  // Warmup over the whole run: then the end value.
  const Schedule all = Schedule::warmup_cosine(2.0, 10, 10);
  EXPECT_DOUBLE_EQ(all(5), 1.0);
  EXPECT_DOUBLE_EQ(all(10), 2.0);
  EXPECT_DOUBLE_EQ(all(11), 0.0);
}

TEST(Schedule, WarmupLinear) {
  const Schedule s = Schedule::warmup_linear(1.0, 10, 110, 0.0);
  EXPECT_DOUBLE_EQ(s(0), 0.0);
  EXPECT_DOUBLE_EQ(s(5), 0.5);
  EXPECT_DOUBLE_EQ(s(10), 1.0);
  EXPECT_DOUBLE_EQ(s(35), 0.75);
  EXPECT_DOUBLE_EQ(s(60), 0.5);
  EXPECT_DOUBLE_EQ(s(110), 0.0);
  EXPECT_DOUBLE_EQ(s(500), 0.0);
}

TEST(Schedule, StepDecay) {
  const Schedule s = Schedule::step_decay(0.1, 0.1, {30, 60, 80});
  EXPECT_DOUBLE_EQ(s(0), 0.1);
  EXPECT_DOUBLE_EQ(s(29), 0.1);
  EXPECT_DOUBLE_EQ(s(30), 0.1 * 0.1);
  EXPECT_DOUBLE_EQ(s(59), 0.1 * 0.1);
  EXPECT_DOUBLE_EQ(s(60), 0.1 * 0.01);
  EXPECT_DOUBLE_EQ(s(1000), 0.1 * 0.001);
  EXPECT_DOUBLE_EQ(Schedule::step_decay(0.5, 0.5, {})(100), 0.5);
}

// Expects `f` to throw kiln::Error mentioning `piece`.
template <class F>
void expect_error(F&& f, const std::string& piece) {
  try {
    f();
    ADD_FAILURE() << "expected kiln::Error mentioning " << piece;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(piece), std::string::npos) << e.what();
  }
}

TEST(Schedule, Validation) {
  expect_error([] { Schedule::warmup_cosine(1.0, 20, 10); }, "warmup_steps is 20");
  expect_error([] { Schedule::warmup_cosine(1.0, -1, 10); }, "warmup_steps");
  expect_error([] { Schedule::warmup_cosine(1.0, 0, 0); }, "total_steps is 0");
  expect_error([] { Schedule::warmup_cosine(-1.0, 0, 10); }, "peak");
  expect_error([] { Schedule::warmup_linear(1.0, 5, 10, -0.1); }, "warmup_linear schedule");
  expect_error([] { Schedule::constant(std::nan("")); }, "constant schedule");
  expect_error([] { Schedule::step_decay(0.1, 0.0, {10}); }, "gamma");
  expect_error([] { Schedule::step_decay(0.1, 0.1, {10, 10}); }, "strictly increasing");
  expect_error([] { Schedule::step_decay(0.1, 0.1, {0, 10}); }, "boundaries (0, 10)");
  expect_error([] { Schedule::constant(1.0)(-1); }, "step is -1");
}

TEST(Schedule, Describe) {
  EXPECT_EQ(Schedule::constant(0.5).describe(), "constant(0.5)");
  EXPECT_EQ(Schedule::step_decay(1, 0.1, {3, 6}).describe(),
            "step_decay(base=1, gamma=0.1, boundaries=[3, 6])");
  EXPECT_EQ(Schedule::warmup_cosine(1.6, 10, 100).describe(),
            "warmup_cosine(peak=1.6, warmup=10, total=100, end=0, start=0)");
}

}  // namespace
}  // namespace kiln::optim
