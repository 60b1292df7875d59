// Parameter groups, optimizers (validation, skipped steps, state round
// trips, the NFNets step order), EMA and SkipCounter. Trajectories against
// PyTorch are in tests/parity/optim_parity_test.cc.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "kiln/io/safetensors.h"
#include "kiln/optim/ema.h"
#include "kiln/optim/optimizer.h"
#include "kiln/optim/param_groups.h"
#include "kiln/optim/skip_counter.h"
#include "kiln/optim/transforms.h"
#include "kiln/tensor/tensor.h"

namespace kiln::optim {
namespace {

Tensor param(const std::vector<double>& values, IntList shape, DType dtype = DType::kF64) {
  Tensor t = from_vector(values, shape, dtype);
  t.set_requires_grad(true);
  return t;
}

Tensor copy_of(const Tensor& t) {
  Tensor out = Tensor::empty(t.shape(), t.dtype());
  copy_into(out, t);
  return out;
}

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() &&
         std::memcmp(a.raw_data(), b.raw_data(), static_cast<size_t>(a.nbytes())) == 0;
}

void expect_values(const Tensor& t, const std::vector<double>& want, double tol) {
  const std::vector<double> got = to_vector(t);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], tol) << i;
}

// Expects `f` to throw kiln::Error whose message contains every piece.
template <class F>
void expect_error(F&& f, const std::vector<std::string>& pieces) {
  try {
    f();
    ADD_FAILURE() << "expected kiln::Error";
  } catch (const Error& e) {
    for (const std::string& piece : pieces) {
      EXPECT_NE(std::string(e.what()).find(piece), std::string::npos)
          << "'" << piece << "' not in: " << e.what();
    }
  }
}

// --- parameter groups ---

nn::NamedTensors nfnet_like_params() {
  const std::vector<std::string> names = {"stem.conv0.weight",
                                          "stem.conv0.gain",
                                          "stem.conv0.bias",
                                          "stages.0.blocks.0.conv1.weight",
                                          "stages.0.blocks.0.skip_gain",
                                          "stages.0.blocks.0.se.fc0.weight",
                                          "stages.0.blocks.0.se.fc0.bias",
                                          "head.weight",
                                          "head.bias"};
  nn::NamedTensors out;
  for (const std::string& n : names) out.emplace_back(n, param({1, 2}, {2}));
  return out;
}

std::string group_name(const ParamGroups& g, const std::string& param_name) {
  const int i = g.find(param_name);
  EXPECT_GE(i, 0) << param_name;
  return i < 0 ? "" : g.groups()[g.params()[i].group].name;
}

TEST(ParamGroups, NfnetRulesPartitionLikeTheOfficialCode) {
  ParamGroups g(nfnet_like_params(), nfnet_group_rules());
  EXPECT_TRUE(g.warnings().empty());
  ASSERT_EQ(g.groups().size(), 3u);
  EXPECT_EQ(group_name(g, "stem.conv0.weight"), "default");
  EXPECT_EQ(group_name(g, "stem.conv0.gain"), "gains_biases");
  EXPECT_EQ(group_name(g, "stem.conv0.bias"), "gains_biases");
  EXPECT_EQ(group_name(g, "stages.0.blocks.0.skip_gain"), "gains_biases");
  EXPECT_EQ(group_name(g, "stages.0.blocks.0.se.fc0.weight"), "default");  // SE: AGC on
  EXPECT_EQ(group_name(g, "head.weight"), "head");
  EXPECT_EQ(group_name(g, "head.bias"), "gains_biases");  // first match: AGC on, no decay
  const ParamGroup& gb = g.groups()[0];
  EXPECT_EQ(gb.weight_decay, 0.0);
  EXPECT_TRUE(gb.agc);
  const ParamGroup& head = g.groups()[1];
  EXPECT_FALSE(head.agc);
  EXPECT_FALSE(head.weight_decay.has_value());  // the optimizer's
  EXPECT_TRUE(g.groups()[2].agc);
  EXPECT_EQ(g.groups()[2].members.size(), 3u);
  // Order of params() is the order given.
  EXPECT_EQ(g.params()[0].name, "stem.conv0.weight");
  EXPECT_EQ(g.params()[8].name, "head.bias");
}

TEST(ParamGroups, UnmatchedAndShadowedRulesAreReported) {
  GroupRule typo{"typo", "baises$", {}};
  GroupRule biases{"biases", "bias$", {}};
  GroupRule shadowed{"shadowed", "head\\.bias", {}};
  ParamGroups g(nfnet_like_params(), {typo, biases, shadowed});
  ASSERT_EQ(g.warnings().size(), 2u);
  EXPECT_NE(g.warnings()[0].find("'typo'"), std::string::npos) << g.warnings()[0];
  EXPECT_NE(g.warnings()[0].find("matches no parameter"), std::string::npos);
  EXPECT_NE(g.warnings()[1].find("'shadowed'"), std::string::npos) << g.warnings()[1];
  EXPECT_NE(g.warnings()[1].find("earlier rules"), std::string::npos);
}

TEST(ParamGroups, OptionsInheritFromTheDefaultGroup) {
  GroupOptions defaults;
  defaults.agc = false;
  defaults.lr_mult = 0.5;
  GroupRule rule{"decay_off", "bias$", {}};
  rule.options.weight_decay = 0.0;
  ParamGroups g(nfnet_like_params(), {rule}, defaults);
  EXPECT_FALSE(g.groups()[0].agc);
  EXPECT_EQ(g.groups()[0].lr_mult, 0.5);
  EXPECT_FALSE(g.groups()[1].agc);
  EXPECT_FALSE(g.groups()[1].weight_decay.has_value());
}

TEST(ParamGroups, RejectsBadRulesAndNames) {
  expect_error(
      [] {
        ParamGroups(nfnet_like_params(), {GroupRule{"broken", "(bias", {}}});
      },
      {"param groups", "'broken'", "invalid regex", "(bias"});
  GroupRule negative{"neg", "bias", {}};
  negative.options.lr_mult = -1.0;
  expect_error([&] { ParamGroups(nfnet_like_params(), {negative}); }, {"'neg'", "lr_mult"});
  expect_error(
      [] {
        ParamGroups({{"a", param({1}, {1})}, {"a", param({2}, {1})}});
      },
      {"'a'", "twice"});
  expect_error([] { ParamGroups(nfnet_like_params(), {{"x", "a", {}}, {"x", "b", {}}}); }, {"'x'"});
}

TEST(ParamGroups, TiedTensorsAreUpdatedOnce) {
  Tensor shared = param({1, 2}, {2});
  ParamGroups g({{"embed.weight", shared}, {"unembed.weight", shared}});
  EXPECT_EQ(g.params().size(), 1u);
  ASSERT_EQ(g.warnings().size(), 1u);
  EXPECT_NE(g.warnings()[0].find("'unembed.weight' is the same tensor as 'embed.weight'"),
            std::string::npos)
      << g.warnings()[0];
}

// --- optimizers ---

TEST(Optimizer, ValidatesHyperparameters) {
  const nn::NamedTensors p = {{"w", param({1}, {1})}};
  expect_error([&] { Sgd(p, SgdOptions{.momentum = 1.0}); }, {"sgd", "momentum", "[0, 1)"});
  expect_error([&] { Sgd(p, SgdOptions{.momentum = -0.1}); }, {"sgd", "momentum"});
  expect_error([&] { Sgd(p, SgdOptions{.nesterov = true}); }, {"sgd", "nesterov"});
  expect_error([&] { Sgd(p, SgdOptions{.weight_decay = -1}); }, {"sgd", "weight_decay"});
  expect_error([&] { Adam(p, AdamOptions{.beta1 = 1.0}); }, {"adam", "beta1", "[0, 1)"});
  expect_error([&] { Adam(p, AdamOptions{.beta2 = -0.5}); }, {"adam", "beta2"});
  expect_error([&] { AdamW(p, AdamWOptions{.eps = -1e-8}); }, {"adamw", "eps"});
  expect_error([&] { Lamb(p, LambOptions{.beta1 = 1.5}); }, {"lamb", "beta1"});
  expect_error([&] { Adam(p, AdamOptions{.eps = std::nan("")}); }, {"adam", "eps"});
  Sgd sgd(p, SgdOptions{});
  expect_error([&] { sgd.step(-0.1); }, {"sgd", "lr is -0.1", ">= 0"});
  expect_error([&] { sgd.step(std::numeric_limits<double>::infinity()); }, {"sgd", "lr"});
  // Parameters the kernels cannot update.
  Tensor bf = zeros({2}, DType::kBF16);
  expect_error([&] { Sgd({{"bf", bf}}, SgdOptions{}); }, {"sgd", "'bf'", "bf16"});
}

TEST(Optimizer, SgdStepFormulaAndGroupOverrides) {
  // Plain SGD: p -= lr * lr_mult * (g + wd * p).
  Tensor w = param({1, 2}, {2});
  Tensor b = param({3}, {1});
  GroupRule rule{"bias", "^b$", {}};
  rule.options.lr_mult = 10.0;
  rule.options.weight_decay = 0.0;
  Sgd sgd(ParamGroups({{"w", w}, {"b", b}}, {rule}), SgdOptions{.weight_decay = 0.5});
  EXPECT_TRUE(sgd.slot_names().empty());
  w.set_grad(from_vector(std::vector<double>{1, 1}, {2}, DType::kF64));
  b.set_grad(from_vector(std::vector<double>{1}, {1}, DType::kF64));
  const StepResult r = sgd.step(0.1);
  EXPECT_TRUE(r.applied);
  EXPECT_DOUBLE_EQ(r.grad_norm, std::sqrt(3.0));
  expect_values(w, {1 - 0.1 * (1 + 0.5), 2 - 0.1 * (1 + 1.0)}, 1e-15);
  expect_values(b, {3 - 1.0 * 1}, 1e-15);
  EXPECT_EQ(sgd.step_count(), 1);
}

// NFNets: AGC -> add weight decay -> momentum/Nesterov -> lr, one step by hand.
TEST(Optimizer, SgdAgcAppliesTheNfnetsOrder) {
  // w = (3, 4) (a vector: one unit, norm 5), g = (30, 40) (norm 50).
  // AGC, clipping 0.1: max_norm 0.5 < 50 -> g = (0.3, 0.4).
  // + wd 0.01 * w -> (0.33, 0.44).  buf = 0.9 * 0 + g = (0.33, 0.44).
  // Nesterov: g + 0.9 buf = (0.627, 0.836).  p -= 0.5 * that -> (2.6865, 3.582).
  Tensor w = param({3, 4}, {2});
  Sgd sgd({{"w", w}}, SgdOptions{.momentum = 0.9, .nesterov = true, .weight_decay = 0.01});
  sgd.add_transform(std::make_unique<AdaptiveGradClip>(AgcOptions{0.1, 1e-3}));
  w.set_grad(from_vector(std::vector<double>{30, 40}, {2}, DType::kF64));
  EXPECT_TRUE(sgd.step(0.5).applied);
  expect_values(w, {2.6865, 3.582}, 1e-14);
  expect_values(sgd.slot("w", "momentum"), {0.33, 0.44}, 1e-15);
}

TEST(Optimizer, ParametersWithoutGradientsAreLeftAlone) {
  Tensor a = param({1, 2}, {2});
  Tensor b = param({3}, {1});
  Adam adam({{"a", a}, {"b", b}}, AdamOptions{});
  a.set_grad(from_vector(std::vector<double>{1, 1}, {2}, DType::kF64));
  EXPECT_TRUE(adam.step(0.1).applied);
  expect_values(b, {3}, 0);
  expect_values(adam.slot("b", "exp_avg"), {0}, 0);
  EXPECT_LT(to_vector(a)[0], 1.0);
  adam.zero_grad();
  EXPECT_FALSE(a.grad().defined());
}

// A NaN or Inf anywhere: step() reports it and changes nothing at all.
TEST(Optimizer, NonFiniteGradientSkipsTheWholeStep) {
  for (double bad :
       {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity()}) {
    for (DType dtype : {DType::kF32, DType::kF64}) {
      Tensor a = param({1, 2, 3}, {3}, dtype);
      Tensor b = param({4, 5}, {2}, dtype);
      Sgd sgd({{"a", a}, {"b", b}}, SgdOptions{.momentum = 0.9, .weight_decay = 0.1});
      sgd.add_transform(std::make_unique<AdaptiveGradClip>(AgcOptions{0.01, 1e-3}));
      // One good step, so the state is non-trivial.
      a.set_grad(from_vector(std::vector<double>{1, 1, 1}, {3}, dtype));
      b.set_grad(from_vector(std::vector<double>{1, 1}, {2}, dtype));
      ASSERT_TRUE(sgd.step(0.1).applied);
      const Tensor a0 = copy_of(a), b0 = copy_of(b);
      const Tensor ma0 = copy_of(sgd.slot("a", "momentum"));
      const Tensor mb0 = copy_of(sgd.slot("b", "momentum"));
      // The good gradient comes first: it must not be touched either.
      Tensor ga = from_vector(std::vector<double>{100, 100, 100}, {3}, dtype);
      a.set_grad(ga);
      b.set_grad(from_vector(std::vector<double>{1, bad}, {2}, dtype));
      const Tensor ga0 = copy_of(ga);
      const StepResult r = sgd.step(0.1);
      EXPECT_FALSE(r.applied);
      EXPECT_FALSE(std::isfinite(r.grad_norm));
      EXPECT_TRUE(same_bits(a, a0));
      EXPECT_TRUE(same_bits(b, b0));
      EXPECT_TRUE(same_bits(sgd.slot("a", "momentum"), ma0));
      EXPECT_TRUE(same_bits(sgd.slot("b", "momentum"), mb0));
      EXPECT_TRUE(same_bits(a.grad(), ga0));
      EXPECT_EQ(sgd.step_count(), 1);
      // A finite step afterwards goes through.
      b.set_grad(from_vector(std::vector<double>{1, 1}, {2}, dtype));
      EXPECT_TRUE(sgd.step(0.1).applied);
      EXPECT_EQ(sgd.step_count(), 2);
    }
  }
}

// The step counter is what Adam's bias correction uses: a skipped step must
// not advance it (the next update uses t = 2, not 3).
TEST(Optimizer, SkippedStepDoesNotAdvanceBiasCorrection) {
  auto run = [](bool with_skip) {
    Tensor w = param({0.5, -0.5}, {2});
    Adam adam({{"w", w}}, AdamOptions{});
    w.set_grad(from_vector(std::vector<double>{1, 2}, {2}, DType::kF64));
    adam.step(0.1);
    if (with_skip) {
      w.set_grad(from_vector(std::vector<double>{std::nan(""), 2}, {2}, DType::kF64));
      adam.step(0.1);
    }
    w.set_grad(from_vector(std::vector<double>{-1, 0.5}, {2}, DType::kF64));
    adam.step(0.1);
    return copy_of(w);
  };
  EXPECT_TRUE(same_bits(run(false), run(true)));
}

// Runs `steps` steps of fixed pseudo-random gradients starting at `first`.
void drive(Optimizer& opt, const nn::NamedTensors& params, int first, int steps) {
  for (int s = first; s < first + steps; ++s) {
    for (size_t i = 0; i < params.size(); ++i) {
      const Tensor& p = params[i].second;
      std::vector<double> g(static_cast<size_t>(p.numel()));
      for (size_t k = 0; k < g.size(); ++k) g[k] = std::sin(1.0 + s * 7.0 + i * 3.0 + k);
      Tensor(p).set_grad(from_vector(g, p.shape(), p.dtype()));
    }
    ASSERT_TRUE(opt.step(0.05 + 0.01 * s).applied);
  }
}

nn::NamedTensors make_params(DType dtype) {
  return {{"layer.weight", param({0.1, -0.2, 0.3, 0.4, -0.5, 0.6}, {3, 2}, dtype)},
          {"layer.bias", param({0.01, -0.02}, {2}, dtype)},
          {"skip_gain", param({0}, {}, dtype)}};
}

template <class Opt, class Options>
void expect_round_trip_continues_exactly(const Options& options, bool through_file) {
  for (DType dtype : {DType::kF32, DType::kF64}) {
    nn::NamedTensors a = make_params(dtype);
    Opt opt_a(ParamGroups(a, nfnet_group_rules()), options);
    drive(opt_a, a, 0, 3);
    // Snapshot the state and the parameters (copies: the live state moves on).
    std::map<std::string, Tensor> saved;
    for (auto& [name, t] : opt_a.state_dict()) saved[name] = copy_of(t);
    if (through_file) {
      const std::string path =
          (std::filesystem::path(::testing::TempDir()) / "kiln_optim_state.safetensors").string();
      ASSERT_TRUE(save_safetensors(path, opt_a.state_dict()).ok());
      absl::StatusOr<SafetensorsFile> f = load_safetensors(path);
      ASSERT_TRUE(f.ok()) << f.status();
      saved.clear();
      for (size_t i = 0; i < f->names.size(); ++i) saved[f->names[i]] = f->tensors[i];
      std::filesystem::remove(path);
    }
    nn::NamedTensors b = make_params(dtype);
    for (size_t i = 0; i < a.size(); ++i) copy_into(b[i].second, a[i].second);
    Opt opt_b(ParamGroups(b, nfnet_group_rules()), options);
    ASSERT_TRUE(opt_b.load_state_dict(saved).ok());
    EXPECT_EQ(opt_b.step_count(), 3);
    drive(opt_a, a, 3, 3);
    drive(opt_b, b, 3, 3);
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_TRUE(same_bits(a[i].second, b[i].second)) << a[i].first;
    }
    EXPECT_EQ(opt_b.step_count(), 6);
  }
}

TEST(Optimizer, StateDictRoundTripContinuesExactly) {
  expect_round_trip_continues_exactly<Sgd>(
      SgdOptions{.momentum = 0.9, .nesterov = true, .weight_decay = 1e-2}, false);
  expect_round_trip_continues_exactly<Adam>(AdamOptions{.weight_decay = 1e-2}, false);
  expect_round_trip_continues_exactly<AdamW>(AdamWOptions{}, false);
  expect_round_trip_continues_exactly<Lamb>(LambOptions{.weight_decay = 1e-2}, false);
}

TEST(Optimizer, StateDictRoundTripThroughSafetensors) {
  expect_round_trip_continues_exactly<Sgd>(SgdOptions{.momentum = 0.9, .nesterov = true}, true);
  expect_round_trip_continues_exactly<Adam>(AdamOptions{}, true);
}

TEST(Optimizer, StateDictNamesAndLoadErrors) {
  nn::NamedTensors p = make_params(DType::kF32);
  Sgd sgd(p, SgdOptions{.momentum = 0.9});
  const nn::NamedTensors state = sgd.state_dict();
  ASSERT_EQ(state.size(), 4u);
  EXPECT_EQ(state[0].first, "layer.weight.momentum");
  EXPECT_EQ(state[2].first, "skip_gain.momentum");
  EXPECT_EQ(state[3].first, "step");
  EXPECT_EQ(state[3].second.dtype(), DType::kI64);
  drive(sgd, p, 0, 1);
  const Tensor before = copy_of(sgd.slot("layer.weight", "momentum"));

  std::map<std::string, Tensor> bad;
  bad["layer.weight.momentum"] = zeros({2, 3}, DType::kF32);  // wrong shape
  bad["layer.bias.momentum"] = zeros({2}, DType::kF32);
  bad["step"] = scalar_tensor(5, DType::kI64);
  bad["stray.momentum"] = zeros({1}, DType::kF32);  // unexpected; skip_gain missing
  const absl::Status s = sgd.load_state_dict(bad);
  ASSERT_FALSE(s.ok());
  const std::string msg(s.message());
  EXPECT_NE(msg.find("sgd"), std::string::npos) << msg;
  EXPECT_NE(msg.find("layer.weight.momentum (expected f32 (3, 2), got f32 (2, 3))"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("missing: skip_gain.momentum"), std::string::npos) << msg;
  EXPECT_NE(msg.find("unexpected: stray.momentum"), std::string::npos) << msg;
  // Nothing was modified.
  EXPECT_TRUE(same_bits(sgd.slot("layer.weight", "momentum"), before));
  EXPECT_EQ(sgd.step_count(), 1);
  // An Adam state does not load into SGD.
  Adam adam(make_params(DType::kF32), AdamOptions{});
  std::map<std::string, Tensor> adam_state;
  for (auto& [name, t] : adam.state_dict()) adam_state[name] = t;
  EXPECT_FALSE(sgd.load_state_dict(adam_state).ok());
  expect_error([&] { sgd.slot("layer.weight", "exp_avg"); }, {"sgd", "exp_avg", "momentum"});
  expect_error([&] { sgd.slot("nope", "momentum"); }, {"sgd", "'nope'"});
}

// --- SkipCounter ---

TEST(SkipCounter, ThrowsWhenConsecutiveSkipsExceedTheLimit) {
  SkipCounter counter(2);
  counter.record(false, 10);
  counter.record(false, 11);
  EXPECT_EQ(counter.consecutive(), 2);
  counter.record(true, 12);  // resets the run
  EXPECT_EQ(counter.consecutive(), 0);
  counter.record(false, 13);
  counter.record(false, 14);
  expect_error([&] { counter.record(false, 15); },
               {"3 consecutive optimizer steps were skipped", "NaN or Inf", "step 15", "limit is 2",
                "5 skipped in all"});
  SkipCounter strict(0);
  EXPECT_THROW(strict.record(false, 0), Error);
  EXPECT_THROW(SkipCounter(-1), Error);
}

// --- EMA ---

TEST(Ema, WarmupDecayFollowsTf1Rule) {
  Ema ema(nn::NamedTensors{{"w", param({1}, {1})}}, EmaOptions{0.99999, true});
  EXPECT_DOUBLE_EQ(ema.decay_at(0), 1.0 / 10.0);
  EXPECT_DOUBLE_EQ(ema.decay_at(1), 2.0 / 11.0);
  EXPECT_DOUBLE_EQ(ema.decay_at(10), 11.0 / 20.0);
  EXPECT_DOUBLE_EQ(ema.decay_at(990), 991.0 / 1000.0);
  // (1 + t) / (10 + t) reaches 0.99999 at t = 899,990.
  EXPECT_DOUBLE_EQ(ema.decay_at(899'989), 899'990.0 / 899'999.0);
  EXPECT_DOUBLE_EQ(ema.decay_at(899'990), 0.99999);
  EXPECT_DOUBLE_EQ(ema.decay_at(5'000'000), 0.99999);
  Ema flat(nn::NamedTensors{{"w", param({1}, {1})}}, EmaOptions{0.9, false});
  EXPECT_DOUBLE_EQ(flat.decay_at(0), 0.9);
  EXPECT_THROW(Ema(nn::NamedTensors{}, EmaOptions{1.5, true}), Error);
  EXPECT_THROW(ema.decay_at(-1), Error);
}

TEST(Ema, UpdateSwapCopyAndState) {
  for (DType dtype : {DType::kF32, DType::kF64}) {
    const double tol = dtype == DType::kF64 ? 1e-15 : 1e-6;
    Tensor w = param({1, 2}, {2}, dtype);
    Ema ema(nn::NamedTensors{{"w", w}});
    // Starts as a copy: an update with w unchanged changes nothing.
    ema.update(0);
    expect_values(ema.state_dict()[0].second, {1, 2}, tol);
    copy_into(w, from_vector(std::vector<double>{11, 12}, {2}, dtype));
    ema.update(0);  // d = 0.1: 0.1 * 1 + 0.9 * 11 = 10
    expect_values(ema.state_dict()[0].second, {10, 11}, tol);
    ema.update(1);  // d = 2/11: (2 * 10 + 9 * 11) / 11 = 119/11
    expect_values(ema.state_dict()[0].second, {119.0 / 11, 130.0 / 11}, tol * 10);
    {
      EmaSwapScope scope(ema);
      expect_values(w, {119.0 / 11, 130.0 / 11}, tol * 10);
    }
    expect_values(w, {11, 12}, 0);
    // State round trip into a fresh EMA.
    Ema other(nn::NamedTensors{{"w", w}});
    std::map<std::string, Tensor> state;
    for (auto& [name, t] : ema.state_dict()) state[name] = t;
    ASSERT_TRUE(other.load_state_dict(state).ok());
    other.copy_to();
    expect_values(w, {119.0 / 11, 130.0 / 11}, tol * 10);
    EXPECT_FALSE(other.load_state_dict({{"v", w}}).ok());
  }
}

}  // namespace
}  // namespace kiln::optim
