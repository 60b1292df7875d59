// Optimizer trajectories against PyTorch golden fixtures
// (tools/golden/optim.py -> tests/parity/golden/optim_*.safetensors): five
// steps of SGD-Nesterov (NFNets form), SGD_AGC, Adam, AdamW and LAMB on five
// small parameters with the NFNets parameter groups, every step's gradient
// and learning rate taken from the fixture. f64 must agree to rounding;
// f32 (the SIMD kernels) to float precision.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "kiln/io/safetensors.h"
#include "kiln/optim/optimizer.h"
#include "kiln/optim/param_groups.h"
#include "kiln/optim/transforms.h"
#include "kiln/tensor/tensor.h"

namespace kiln::optim {
namespace {

const std::vector<std::string> kParams = {"layer.weight", "conv.weight", "layer.bias", "skip_gain",
                                          "head.weight"};

struct Fixture {
  SafetensorsFile file;

  static Fixture load(const std::string& name) {
    const std::string path = absl::StrCat(KILN_GOLDEN_DIR, "/", name, ".safetensors");
    absl::StatusOr<SafetensorsFile> f = load_safetensors(path);
    KILN_CHECK(f.ok(), "golden fixture ", path, ": ", f.status().ToString(),
               " (regenerate with /usr/bin/python3 tools/golden/optim.py)");
    return Fixture{*std::move(f)};
  }
  const Tensor& get(const std::string& name) const {
    const Tensor* t = file.find(name);
    KILN_CHECK(t != nullptr, "golden fixture has no tensor '", name, "'");
    return *t;
  }
  double hyper(const std::string& key) const { return get("hyper." + key).item<double>(); }
  std::vector<double> lrs() const { return to_vector(get("lr")); }
};

Tensor converted(const Tensor& t, DType dtype) {
  Tensor out = Tensor::empty(t.shape(), dtype);
  copy_into(out, t);
  return out;
}

struct Tolerance {
  double atol;
  double rtol;
};

void expect_close(const Tensor& actual, const Tensor& expected, Tolerance tol,
                  const std::string& what) {
  ASSERT_EQ(actual.shape(), expected.shape()) << what;
  const std::vector<double> a = to_vector(actual), e = to_vector(expected);
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_NEAR(a[i], e[i], tol.atol + tol.rtol * std::abs(e[i])) << what << " [" << i << "]";
  }
}

using MakeOptimizer = std::function<std::unique_ptr<Optimizer>(ParamGroups, const Fixture&)>;

// Runs the fixture's trajectory in `dtype` and compares every step.
void run_trajectory(const std::string& fixture_name, DType dtype, const MakeOptimizer& make,
                    Tolerance tol) {
  const Fixture fx = Fixture::load(fixture_name);
  nn::NamedTensors params;
  for (const std::string& name : kParams) {
    Tensor p = converted(fx.get("init." + name), dtype);
    p.set_requires_grad(true);
    params.emplace_back(name, p);
  }
  ParamGroups groups(params, nfnet_group_rules("head"));
  EXPECT_TRUE(groups.warnings().empty());
  std::unique_ptr<Optimizer> opt = make(groups, fx);
  const std::vector<double> lrs = fx.lrs();
  ASSERT_EQ(lrs.size(), 5u);
  for (size_t t = 0; t < lrs.size(); ++t) {
    for (auto& [name, p] : params) {
      p.set_grad(converted(fx.get(absl::StrCat("grad.", t, ".", name)), dtype));
    }
    const StepResult r = opt->step(lrs[t]);
    ASSERT_TRUE(r.applied);
    for (auto& [name, p] : params) {
      expect_close(p, fx.get(absl::StrCat("param.", t, ".", name)), tol,
                   absl::StrCat(fixture_name, " ", dtype_name(dtype), " step ", t, " ", name));
    }
  }
  EXPECT_EQ(opt->step_count(), 5);
  for (const std::string& name : kParams) {
    for (const std::string& slot : opt->slot_names()) {
      expect_close(opt->slot(name, slot), fx.get(absl::StrCat("state.", name, ".", slot)), tol,
                   absl::StrCat(fixture_name, " ", dtype_name(dtype), " state ", name, ".", slot));
    }
  }
}

constexpr Tolerance kF64{1e-12, 1e-10};
constexpr Tolerance kF32{2e-5, 1e-4};

std::unique_ptr<Optimizer> make_sgd(ParamGroups groups, const Fixture& fx) {
  SgdOptions o;
  o.momentum = fx.hyper("momentum");
  o.dampening = fx.hyper("dampening");
  o.nesterov = fx.hyper("nesterov") != 0;
  o.weight_decay = fx.hyper("weight_decay");
  return std::make_unique<Sgd>(std::move(groups), o);
}

std::unique_ptr<Optimizer> make_sgd_agc(ParamGroups groups, const Fixture& fx) {
  std::unique_ptr<Optimizer> opt = make_sgd(std::move(groups), fx);
  opt->add_transform(std::make_unique<AdaptiveGradClip>(
      AgcOptions{.clipping = fx.hyper("clipping"), .eps = fx.hyper("eps")}));
  return opt;
}

template <class Opt, class Options>
std::unique_ptr<Optimizer> make_adam_like(ParamGroups groups, const Fixture& fx) {
  Options o;
  o.beta1 = fx.hyper("beta1");
  o.beta2 = fx.hyper("beta2");
  o.eps = fx.hyper("eps");
  o.weight_decay = fx.hyper("weight_decay");
  return std::make_unique<Opt>(std::move(groups), o);
}

class OptimParity : public ::testing::TestWithParam<DType> {
 protected:
  Tolerance tol() const { return GetParam() == DType::kF64 ? kF64 : kF32; }
};

TEST_P(OptimParity, SgdNesterovNfnetsForm) {
  run_trajectory("optim_sgd_nesterov", GetParam(), make_sgd, tol());
}

TEST_P(OptimParity, SgdWithAdaptiveGradClip) {
  run_trajectory("optim_sgd_agc", GetParam(), make_sgd_agc, tol());
}

TEST_P(OptimParity, Adam) {
  run_trajectory("optim_adam", GetParam(), make_adam_like<Adam, AdamOptions>, tol());
}

TEST_P(OptimParity, AdamW) {
  run_trajectory("optim_adamw", GetParam(), make_adam_like<AdamW, AdamWOptions>, tol());
}

TEST_P(OptimParity, Lamb) {
  run_trajectory("optim_lamb", GetParam(), make_adam_like<Lamb, LambOptions>, tol());
}

INSTANTIATE_TEST_SUITE_P(Dtypes, OptimParity, ::testing::Values(DType::kF64, DType::kF32),
                         [](const ::testing::TestParamInfo<DType>& param_info) {
                           return std::string(dtype_name(param_info.param));
                         });

// The fixtures must make AGC matter: some units clipped, some not, and the
// head never (otherwise the AGC parity test proves little).
TEST(OptimParityFixture, AgcFixtureClipsSomeUnitsAndNotOthers) {
  const Fixture fx = Fixture::load("optim_sgd_agc");
  int clipped = 0, kept = 0;
  for (const std::string& name : kParams) {
    if (name.rfind("head.", 0) == 0) continue;
    Tensor p = converted(fx.get("init." + name), DType::kF64);
    Tensor g = converted(fx.get("grad.0." + name), DType::kF64);
    const std::vector<double> before = to_vector(unitwise_norm(g));
    adaptive_grad_clip(p, g, AgcOptions{fx.hyper("clipping"), fx.hyper("eps")});
    const std::vector<double> after = to_vector(unitwise_norm(g));
    for (size_t j = 0; j < before.size(); ++j) (after[j] < before[j] ? clipped : kept)++;
  }
  EXPECT_GT(clipped, 0);
  EXPECT_GT(kept, 0);
}

}  // namespace
}  // namespace kiln::optim
