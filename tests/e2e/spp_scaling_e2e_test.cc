// The scaling-law fit of kiln sweep (2310.16764: loss = a * C^b on the
// compute frontier) on synthetic data with a known exponent, a sweep with a
// "fit" section end to end, and kiln spp (2101.08692) files and CLI.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include "kiln/train/spp.h"
#include "kiln/train/sweep.h"
#include "tests/e2e/e2e_util.h"

namespace kiln::testing {
namespace {

namespace fs = std::filesystem;

std::string read(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(PowerLawFit, RecoversAKnownExponentFromTheFrontier) {
  const double a = 3.0, b = -0.1;
  auto law = [&](double c) { return a * std::pow(c, b); };
  // Points on the law: both fits recover it exactly.
  train::XYPoints exact;
  for (int k = 0; k <= 8; ++k) exact.emplace_back(std::pow(10.0, 11 + 0.5 * k), 0.0);
  for (auto& [c, loss] : exact) loss = law(c);
  for (bool frontier : {false, true}) {
    absl::StatusOr<train::PowerLawFit> fit = train::fit_power_law(exact, frontier);
    ASSERT_TRUE(fit.ok()) << fit.status();
    EXPECT_NEAR(fit->b, b, 1e-9);
    EXPECT_NEAR(fit->a, a, 1e-6);
    EXPECT_NEAR(fit->r2, 1.0, 1e-9);
    EXPECT_EQ(fit->points.size(), 9u);
  }
  // A scaling study: four model sizes, each trained at seven budgets
  // C_k = 10^(12 + k / 2); size s is compute-optimal at k = 2s, where it
  // reaches the law, and worse by 5% per half decade away from it. The
  // frontier fit finds the law's exponent; a fit of every point scatters
  // around the sub-optimal runs.
  train::XYPoints study;
  for (int s = 0; s < 4; ++s) {
    for (int k = 0; k <= 6; ++k) {
      const double c = std::pow(10.0, 12 + 0.5 * k);
      study.emplace_back(c, law(c) * (1 + 0.05 * std::abs(k - 2 * s)));
    }
  }
  absl::StatusOr<train::PowerLawFit> frontier = train::fit_power_law(study, true);
  absl::StatusOr<train::PowerLawFit> all = train::fit_power_law(study, false);
  ASSERT_TRUE(frontier.ok() && all.ok());
  EXPECT_EQ(frontier->points.size(), 7u);  // one per budget: the best size's loss
  EXPECT_NEAR(frontier->b, b, 0.01);
  EXPECT_GT(frontier->r2, 0.98);
  EXPECT_LT(all->r2, frontier->r2);
  EXPECT_GT(all->a, frontier->a * 1.01);  // the sizes' average sits above the frontier
}

TEST(PowerLawFit, NoisyScatterAboveTheLaw) {
  // Points at or above 2 C^-0.3 (multiplicative noise >= 1), many per
  // budget: the envelope hugs the law, a fit of all points is biased up.
  const double a = 2.0, b = -0.3;
  train::XYPoints points;
  uint64_t state = 12345;
  auto uniform = [&] {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<double>(state >> 11) / 9007199254740992.0;
  };
  for (int i = 0; i <= 40; ++i) {
    const double c = std::pow(10.0, 10 + 0.1 * i);
    points.emplace_back(c, a * std::pow(c, b) * (1 + 0.002 * uniform()));  // the best run
    for (int k = 0; k < 3; ++k) points.emplace_back(c, a * std::pow(c, b) * (1.05 + uniform()));
  }
  absl::StatusOr<train::PowerLawFit> fit = train::fit_power_law(points, true);
  ASSERT_TRUE(fit.ok()) << fit.status();
  EXPECT_NEAR(fit->b, b, 0.003);
  EXPECT_NEAR(std::log(fit->a), std::log(a), 0.05);
  EXPECT_GT(fit->r2, 0.999);
  // The envelope is decreasing in y and increasing in x.
  for (size_t i = 1; i < fit->points.size(); ++i) {
    EXPECT_GT(fit->points[i].first, fit->points[i - 1].first);
    EXPECT_LT(fit->points[i].second, fit->points[i - 1].second);
  }
}

TEST(PowerLawFit, EnvelopeAndErrors) {
  const train::XYPoints envelope =
      train::lower_envelope({{4, 1.0}, {1, 3.0}, {2, 3.5}, {2, 2.0}, {3, 2.5}, {5, NAN}});
  EXPECT_EQ(envelope, (train::XYPoints{{1, 3.0}, {2, 2.0}, {4, 1.0}}));
  EXPECT_FALSE(train::fit_power_law({{1, 1}}, false).ok());
  EXPECT_FALSE(train::fit_power_law({{1, 1}, {1, 2}}, false).ok());
  EXPECT_FALSE(train::fit_power_law({{-1, 1}, {0, 2}, {3, -1}}, false).ok());
  // A rising y has a one-point envelope: no frontier fit.
  EXPECT_FALSE(train::fit_power_law({{1, 1}, {2, 2}}, true).ok());
}

TEST(SweepFit, FitsTheSweepsRowsAndWritesTheResults) {
  TempDir dir;
  train::Json base = tiny_config(dir.path() / "unused");
  base["train"]["checkpoint_every"] = 0;
  write_config(dir.path(), "base.json", base);
  const train::Json ablation = {
      {"base", "base.json"},
      {"set", {{"train.log_every", 2}}},
      {"grid", {{"model.hidden", {8, 16}}, {"train.steps", {2, 6}}}},
      {"columns", {"train_flops", "eval_loss"}},
      {"plot",
       {{"x", "train_flops"},
        {"y", "eval_loss"},
        {"series", "model.hidden"},
        {"log_x", true},
        {"log_y", true}}},
      {"fit", {{"x", "train_flops"}, {"y", "eval_loss"}}},
      {"output_dir", (dir.path() / "sweep").string()},
  };
  const std::string path = write_config(dir.path(), "ablation.json", ablation);
  absl::StatusOr<train::SweepSpec> spec = train::load_sweep(path, {});
  ASSERT_TRUE(spec.ok()) << spec.status();
  ASSERT_TRUE(spec->fit.has_value());
  EXPECT_TRUE(spec->fit->frontier);
  EXPECT_EQ(spec->fit->form, "power_law");
  train::SweepOptions options;
  options.console = std::fopen("/dev/null", "w");
  absl::StatusOr<train::Json> rows = train::run_sweep(*spec, options);
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 4u);
  // The rows' FLOPs grow with width and steps; the fit is over the envelope.
  absl::StatusOr<train::PowerLawFit> fit = train::fit_sweep(*spec, *rows);
  const std::string md = read(dir.path() / "sweep" / "results.md");
  EXPECT_NE(md.find("## Fit"), std::string::npos);
  if (fit.ok()) {
    EXPECT_TRUE(std::isfinite(fit->b));
    const train::Json saved = train::Json::parse(read(dir.path() / "sweep" / "fit.json"));
    EXPECT_DOUBLE_EQ(saved["b"].get<double>(), fit->b);
    EXPECT_NE(read(dir.path() / "sweep" / "results.svg").find("fit: b = "), std::string::npos);
  } else {
    EXPECT_NE(md.find("no fit: "), std::string::npos);
  }
}

TEST(SweepFit, BadFitSectionNamesTheKey) {
  TempDir dir;
  const std::string path =
      write_config(dir.path(), "bad.json",
                   {{"base", "x.json"},
                    {"grid", {{"a", {1}}}},
                    {"fit", {{"x", "train_flops"}, {"y", "eval_loss"}, {"form", "exp"}}},
                    {"output_dir", "o"}});
  absl::StatusOr<train::SweepSpec> spec = train::load_sweep(path, {});
  ASSERT_FALSE(spec.ok());
  EXPECT_NE(spec.status().message().find("fit.form"), std::string::npos) << spec.status();
}

train::Json tiny_nf_resnet(const fs::path& out) {
  train::Json config = tiny_config(out);
  config["model"] = {{"name", "nf_resnet"}, {"stem_channels", 8},  {"widths", {16, 32}},
                     {"depths", {3, 2}},    {"strides", {1, 2}},   {"stem_pool", false},
                     {"stem_kernel", 3},    {"skip_gain_init", 1}, {"stochdepth_rate", 0}};
  return config;
}

TEST(SppE2E, WritesTheCsvAndPlotForEachVariant) {
  TempDir dir;
  write_config(dir.path(), "base.json", tiny_nf_resnet(dir.path() / "unused"));
  const train::Json file = {
      {"base", "base.json"},
      {"variants",
       {{{"name", "ws"}}, {{"name", "no_ws"}, {"set", {{"model.weight_standardization", false}}}}}},
      {"input", {{"source", "gaussian"}, {"batch_size", 16}, {"image_shape", {16, 16, 1}}}},
      {"output_dir", (dir.path() / "spp").string()},
  };
  const std::string path = write_config(dir.path(), "spp.json", file);
  ASSERT_TRUE(train::is_spp_file(path));
  EXPECT_FALSE(train::is_spp_file(dir.path() / "base.json"));
  absl::StatusOr<train::SppSpec> spec = train::load_spp(path, {});
  ASSERT_TRUE(spec.ok()) << spec.status();
  absl::StatusOr<std::vector<train::SppRow>> rows = train::run_spp(*spec, nullptr);
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 10u);  // 5 blocks x 2 variants
  const train::SppRow& first = (*rows)[0];
  EXPECT_EQ(first.variant, "ws");
  EXPECT_TRUE(first.transition);
  EXPECT_DOUBLE_EQ(first.expected_var, 1.04);
  EXPECT_FALSE((*rows)[1].transition);
  EXPECT_NEAR((*rows)[2].expected_var, 1.12, 1e-9);
  EXPECT_TRUE((*rows)[3].transition);
  EXPECT_EQ((*rows)[3].stage, 1);
  EXPECT_EQ((*rows)[4].index_in_stage, 1);
  const std::string csv = read(dir.path() / "spp" / "spp.csv");
  EXPECT_EQ(csv.substr(0, csv.find('\n')),
            "variant,block,stage,index_in_stage,transition,avg_sq_mean,avg_var,residual_avg_var,"
            "expected_var");
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 11);
  EXPECT_NE(read(dir.path() / "spp" / "spp.svg").find("no_ws"), std::string::npos);
}

TEST(SppE2E, CommandLineVariesAKeyOnTheData) {
  TempDir dir;
  const std::string config = write_config(dir.path(), "c.json", tiny_nf_resnet(dir.path() / "u"));
  const CommandResult r = run_kiln({"spp", config, "--vary", "model.alpha=[0.2, 0.5]", "--batch",
                                    "8", "--output", (dir.path() / "out").string()});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string csv = read(dir.path() / "out" / "spp.csv");
  EXPECT_NE(csv.find("model.alpha=0.2,"), std::string::npos) << csv;
  EXPECT_NE(csv.find("model.alpha=0.5,"), std::string::npos) << csv;
  // Not an NFNet-family model: a clear error.
  train::Json convnet = tiny_config(dir.path() / "u");
  const std::string other = write_config(dir.path(), "convnet.json", convnet);
  const CommandResult bad = run_kiln({"spp", other, "--output", (dir.path() / "x").string()});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.output.find("NFNet family"), std::string::npos) << bad.output;
}

}  // namespace
}  // namespace kiln::testing
