// Adaptive gradient clipping (and the other gradient transforms) against a
// hand-computed case and against the official formula on random tensors.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kiln/optim/param_groups.h"
#include "kiln/optim/transforms.h"
#include "kiln/tensor/tensor.h"

namespace kiln::optim {
namespace {

Tensor tensor(const std::vector<double>& values, IntList shape, DType dtype = DType::kF64) {
  return from_vector(values, shape, dtype);
}

void expect_values(const Tensor& t, const std::vector<double>& want, double tol,
                   const std::string& what = "") {
  const std::vector<double> got = to_vector(t);
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], tol) << what << " " << i;
}

// Worked by hand, clipping = 0.5, eps = 1e-3:
//
// Linear weight W (I=2, O=2) = [[3, 1], [4, 0]]: units are columns.
//   ||W_0|| = sqrt(9 + 16) = 5    -> max_norm = max(5, 1e-3) * 0.5 = 2.5
//   ||W_1|| = sqrt(1 + 0)  = 1    -> max_norm = 0.5
// G = [[6, 0.003], [8, 0.004]]:
//   ||G_0|| = 10 > 2.5   -> G_0 *= 2.5 / 10 = 0.25  -> (1.5, 2)
//   ||G_1|| = 0.005 <= 0.5 -> unchanged                -> (0.003, 0.004)
// Clipped G = [[1.5, 0.003], [2, 0.004]].
//
// Zero-initialised vector b = (0, 0): ||b|| = 0 -> max_norm = 1e-3 * 0.5 = 5e-4.
//   g = (0.3, 0.4), ||g|| = 0.5 > 5e-4 -> g *= 5e-4 / 0.5 = 1e-3 -> (3e-4, 4e-4).
//
// Scalar gain s = 0 with gradient 2e-4: |2e-4| <= 5e-4 -> unchanged.
//
// Conv kernel (KH=1, KW=1, I=2, O=2) with W's values: the same units as the
// linear (each output channel's H, W, I values), so the same result.
TEST(Agc, HandComputedCase) {
  const AgcOptions opts{0.5, 1e-3};
  for (DType dtype : {DType::kF64, DType::kF32}) {
    const double tol = dtype == DType::kF64 ? 1e-15 : 1e-7;
    Tensor w = tensor({3, 1, 4, 0}, {2, 2}, dtype);
    Tensor gw = tensor({6, 0.003, 8, 0.004}, {2, 2}, dtype);
    adaptive_grad_clip(w, gw, opts);
    expect_values(gw, {1.5, 0.003, 2, 0.004}, tol, "linear");

    Tensor b = tensor({0, 0}, {2}, dtype);
    Tensor gb = tensor({0.3, 0.4}, {2}, dtype);
    adaptive_grad_clip(b, gb, opts);
    expect_values(gb, {3e-4, 4e-4}, tol, "zero vector");

    Tensor s = tensor({0}, {}, dtype);
    Tensor gs = tensor({2e-4}, {}, dtype);
    adaptive_grad_clip(s, gs, opts);
    expect_values(gs, to_vector(tensor({2e-4}, {}, dtype)), 0, "scalar below the limit");

    Tensor wc = tensor({3, 1, 4, 0}, {1, 1, 2, 2}, dtype);
    Tensor gc = tensor({6, 0.003, 8, 0.004}, {1, 1, 2, 2}, dtype);
    adaptive_grad_clip(wc, gc, opts);
    expect_values(gc, {1.5, 0.003, 2, 0.004}, tol, "conv");
  }
}

TEST(Agc, UnitwiseNormShapesFollowTheOfficialCode) {
  struct Case {
    Shape in, out;
  };
  const std::vector<Case> cases = {
      {{}, {}},
      {{5}, {}},
      {{1, 5}, {}},  // squeezes to a vector
      {{3, 4}, {1, 4}},
      {{2, 3, 4}, {1, 3, 4}},
      {{3, 3, 4, 5}, {1, 1, 1, 5}},
      {{3, 3, 4, 1}, {1, 1, 1, 1}},
      {{2, 1, 3, 2, 4}, {1, 1, 1, 1, 4}},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(unitwise_norm(zeros(c.in, DType::kF32)).shape(), c.out) << shape_str(c.in);
  }
  // (3, 4): column norms.
  expect_values(unitwise_norm(tensor({3, 0, 0, 1, 4, 0, 0, 0, 0, 0, 12, 0}, {3, 4})), {5, 0, 12, 1},
                1e-15);
}

// The official formula, written with explicit index loops in double:
// reduce over axis 0 (rank 2, 3) or axes 0-2 (rank 4) or everything (vectors,
// scalars, and tensors that squeeze to them).
std::vector<double> agc_formula(const std::vector<double>& p, std::vector<double> g,
                                const Shape& shape, double clipping, double eps) {
  const int64_t numel = static_cast<int64_t>(p.size());
  int64_t non_unit = 0;
  for (int64_t d : shape) non_unit += d != 1;
  int64_t units = 1;  // units are the trailing block of `units` elements of each row
  if (non_unit > 1) {
    units = shape.size() == 4 ? shape[3] : numel / shape[0];
  }
  for (int64_t u = 0; u < units; ++u) {
    double pn = 0, gn = 0;
    for (int64_t i = u; i < numel; i += units) {
      pn += p[i] * p[i];
      gn += g[i] * g[i];
    }
    pn = std::sqrt(pn);
    gn = std::sqrt(gn);
    const double max_norm = std::max(pn, eps) * clipping;
    if (gn > max_norm) {
      for (int64_t i = u; i < numel; i += units) g[i] *= max_norm / std::max(gn, 1e-6);
    }
  }
  return g;
}

TEST(Agc, MatchesTheFormulaOnRandomTensors) {
  std::mt19937 rng(7);
  std::normal_distribution<double> normal(0.0, 1.0);
  const std::vector<Shape> shapes = {{17},      {},           {5, 6},       {1, 9},
                                     {4, 3, 5}, {3, 3, 4, 6}, {2, 2, 5, 1}, {1, 1, 7, 3}};
  for (const Shape& shape : shapes) {
    const int64_t n = shape_numel(shape);
    std::vector<double> p(n), g(n);
    for (int64_t i = 0; i < n; ++i) {
      p[i] = normal(rng);
      // Mixed scales: some units far above the limit, some below.
      g[i] = normal(rng) * ((i % 3 == 0) ? 1.0 : 1e-3);
    }
    if (n > 2) p[1] = p[2] = 0;  // a zero unit somewhere, now and then
    for (double clipping : {0.01, 0.2, 5.0}) {
      const std::vector<double> want = agc_formula(p, g, shape, clipping, 1e-3);
      for (DType dtype : {DType::kF64, DType::kF32}) {
        Tensor pt = tensor(p, shape, dtype), gt = tensor(g, shape, dtype);
        adaptive_grad_clip(pt, gt, AgcOptions{clipping, 1e-3});
        const std::vector<double> got = to_vector(gt);
        for (int64_t i = 0; i < n; ++i) {
          const double tol = (dtype == DType::kF64 ? 1e-14 : 2e-6) * (1 + std::abs(want[i]));
          EXPECT_NEAR(got[i], want[i], tol) << shape_str(shape) << " clipping " << clipping << " "
                                            << dtype_name(dtype) << " " << i;
        }
      }
    }
  }
}

TEST(Agc, GroupsWithAgcOffAreLeftAlone) {
  Tensor head_w = tensor({1, 2, 3, 4}, {2, 2});
  Tensor head_b = tensor({0, 0}, {2});
  Tensor conv = tensor({1, 2, 3, 4}, {1, 1, 2, 2});
  for (Tensor* t : {&head_w, &head_b, &conv}) {
    t->set_requires_grad(true);
    t->set_grad(full(t->shape(), 100.0, DType::kF64));
  }
  ParamGroups groups({{"head.weight", head_w}, {"head.bias", head_b}, {"stem.conv", conv}},
                     nfnet_group_rules());
  adaptive_grad_clip(groups, AgcOptions{0.01, 1e-3});
  // The head weight keeps its gradient; the head bias (gains_biases group,
  // AGC on, as the official code) and the conv are clipped.
  expect_values(head_w.grad(), {100, 100, 100, 100}, 0);
  EXPECT_LT(to_vector(head_b.grad())[0], 1e-3);
  EXPECT_LT(to_vector(conv.grad())[0], 1.0);
}

TEST(Agc, RejectsBadArguments) {
  Tensor p = zeros({2, 3}, DType::kF32);
  Tensor g = zeros({3, 2}, DType::kF32);
  try {
    adaptive_grad_clip(p, g, AgcOptions{});
    FAIL() << "expected kiln::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("adaptive_grad_clip"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("(2, 3)"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("(3, 2)"), std::string::npos) << e.what();
  }
  EXPECT_THROW(adaptive_grad_clip(p, p, AgcOptions{0.0, 1e-3}), Error);
  EXPECT_THROW(adaptive_grad_clip(p, p, AgcOptions{0.01, -1.0}), Error);
  EXPECT_THROW(AdaptiveGradClip(AgcOptions{-0.01, 1e-3}), Error);
  Tensor bf = zeros({2, 3}, DType::kBF16);
  EXPECT_THROW(adaptive_grad_clip(bf, bf, AgcOptions{}), Error);
}

// Two parameters with gradients (3, 4) and (12): global norm 13.
ParamGroups two_params(Tensor* a, Tensor* b, DType dtype = DType::kF64) {
  *a = tensor({1, 1}, {2}, dtype);
  *b = tensor({2}, {1}, dtype);
  a->set_requires_grad(true);
  b->set_requires_grad(true);
  a->set_grad(tensor({3, 4}, {2}, dtype));
  b->set_grad(tensor({12}, {1}, dtype));
  return ParamGroups({{"a", *a}, {"b", *b}});
}

TEST(GlobalNorm, StatsAndClipping) {
  Tensor a, b;
  ParamGroups groups = two_params(&a, &b);
  const GradStats stats = grad_stats(groups);
  EXPECT_DOUBLE_EQ(stats.norm, 13.0);
  EXPECT_TRUE(stats.finite);
  // Below the limit: unchanged.
  EXPECT_DOUBLE_EQ(clip_by_global_norm(groups, 20.0), 13.0);
  expect_values(a.grad(), {3, 4}, 0);
  // Above: scaled by 6.5 / 13 = 0.5.
  EXPECT_DOUBLE_EQ(clip_by_global_norm(groups, 6.5), 13.0);
  expect_values(a.grad(), {1.5, 2}, 1e-15);
  expect_values(b.grad(), {6}, 1e-15);
  // The transform form, given the incoming statistics.
  ClipByGlobalNorm clip(3.25);
  const GradStats now = grad_stats(groups);
  clip.apply(groups, &now);
  expect_values(a.grad(), {0.75, 1}, 1e-15);
  EXPECT_THROW(ClipByGlobalNorm(0.0), Error);
}

TEST(GlobalNorm, DetectsNonFiniteGradients) {
  for (DType dtype : {DType::kF32, DType::kF64}) {
    for (double bad :
         {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity(),
          -std::numeric_limits<double>::infinity()}) {
      Tensor a, b;
      ParamGroups groups = two_params(&a, &b, dtype);
      b.set_grad(tensor({bad}, {1}, dtype));
      const GradStats stats = grad_stats(groups);
      EXPECT_FALSE(stats.finite) << bad;
      EXPECT_FALSE(std::isfinite(stats.norm)) << bad;
      // Clipping leaves non-finite gradients as they are.
      clip_by_global_norm(groups, 1.0);
      expect_values(a.grad(), {3, 4}, 0);
    }
  }
  // A parameter without a gradient is ignored.
  Tensor a, b;
  ParamGroups groups = two_params(&a, &b);
  b.zero_grad();
  EXPECT_DOUBLE_EQ(grad_stats(groups).norm, 5.0);
}

TEST(WeightDecay, CoupledAndDecoupledUseTheGroupValue) {
  Tensor w = tensor({1, 2}, {2});
  Tensor bias = tensor({3}, {1});
  w.set_requires_grad(true);
  bias.set_requires_grad(true);
  w.set_grad(tensor({0.5, 0.5}, {2}));
  bias.set_grad(tensor({0.5}, {1}));
  GroupRule no_decay{"no_decay", "bias$", {}};
  no_decay.options.weight_decay = 0.0;
  no_decay.options.lr_mult = 2.0;
  ParamGroups groups({{"w", w}, {"bias", bias}}, {no_decay});
  add_weight_decay(groups, 0.1);
  expect_values(w.grad(), {0.6, 0.7}, 1e-15);
  expect_values(bias.grad(), {0.5}, 0);
  AddWeightDecay transform(0.1);
  transform.apply(groups, nullptr);
  expect_values(w.grad(), {0.7, 0.9}, 1e-15);
  // Decoupled: p *= 1 - lr * lr_mult * wd.
  decoupled_weight_decay(groups, 0.5, 0.1);
  expect_values(w, {0.95, 1.9}, 1e-15);
  expect_values(bias, {3}, 0);
  EXPECT_THROW(add_weight_decay(groups, -1.0), Error);
}

}  // namespace
}  // namespace kiln::optim
