// kiln eval: a run's checkpoint evaluated again gives the run's own final
// held-out metrics; missing weights are a clear error.
#include <gtest/gtest.h>

#include <cstdio>
#include <memory>

#include "kiln/train/trainer.h"
#include "tests/e2e/e2e_util.h"

namespace kiln::testing {
namespace {

namespace fs = std::filesystem;

// The JSON object kiln eval prints (its only output on success).
train::Json printed_json(const CommandResult& result) {
  const size_t at = result.output.find('{');
  if (at == std::string::npos) return nullptr;
  return train::Json::parse(result.output.substr(at), nullptr, /*allow_exceptions=*/false);
}

// Trains the config file at `path` without console output; its summary.
absl::StatusOr<train::Json> train_quietly(const std::string& path) {
  absl::StatusOr<train::ExperimentConfig> config = train::load_experiment(path, {});
  if (!config.ok()) return config.status();
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> null(std::fopen("/dev/null", "w"), &std::fclose);
  train::TrainOptions options;
  options.console = null.get();
  absl::StatusOr<train::TrainResult> result = train::train(*config, options);
  if (!result.ok()) return result.status();
  return result->summary;
}

class EvalCli : public ::testing::Test {
 protected:
  void SetUp() override {
    config_ = write_config(dir_.path(), "run.json", tiny_config(run_dir()));
    absl::StatusOr<train::Json> summary = train_quietly(config_);
    ASSERT_TRUE(summary.ok()) << summary.status();
    summary_ = *summary;
  }
  fs::path run_dir() const { return dir_.path() / "run"; }

  TempDir dir_;
  std::string config_;
  train::Json summary_;
};

TEST_F(EvalCli, ReproducesTheRunsFinalEvaluation) {
  // A run directory, its checkpoints/ folder and one checkpoint all name the
  // newest weights (step 30).
  for (const fs::path& weights :
       {run_dir(), run_dir() / "checkpoints", run_dir() / "checkpoints" / "step_0000000030"}) {
    const CommandResult result = run_kiln({"eval", config_, "--checkpoint", weights.string()});
    ASSERT_EQ(result.exit_code, 0) << result.output;
    const train::Json out = printed_json(result);
    ASSERT_TRUE(out.is_object()) << result.output;
    EXPECT_EQ(out.at("step").get<int64_t>(), 30) << weights;
    int compared = 0;
    for (const auto& [key, value] : summary_.items()) {
      if (key.rfind("eval_", 0) != 0) continue;
      ASSERT_TRUE(out.contains(key.substr(5))) << key << " in " << out.dump();
      EXPECT_DOUBLE_EQ(out.at(key.substr(5)).get<double>(), value.get<double>()) << key;
      ++compared;
    }
    EXPECT_GT(compared, 0) << "the summary has no eval_ metrics: " << summary_.dump();
  }
}

// A run that evaluates its EMA weights: kiln eval does too, by default.
TEST_F(EvalCli, EvaluatesTheEmaWeightsWhenTheRunDid) {
  train::Json json = tiny_config(dir_.path() / "ema_run");
  json["train"]["ema_decay"] = 0.9;
  const std::string config_path = write_config(dir_.path(), "ema.json", json);
  absl::StatusOr<train::Json> summary = train_quietly(config_path);
  ASSERT_TRUE(summary.ok()) << summary.status();
  const std::string weights = (dir_.path() / "ema_run").string();

  const train::Json ema = printed_json(run_kiln({"eval", config_path, "--checkpoint", weights}));
  ASSERT_TRUE(ema.is_object());
  EXPECT_DOUBLE_EQ(ema.at("loss").get<double>(), summary->at("eval_loss").get<double>());
  const train::Json model = printed_json(run_kiln(
      {"eval", config_path, "--checkpoint", weights, "--set", "train.eval_with_ema=false"}));
  ASSERT_TRUE(model.is_object());
  EXPECT_NE(model.at("loss").get<double>(), ema.at("loss").get<double>());
}

TEST_F(EvalCli, InitEvaluatesTheRunsInitialisation) {
  const CommandResult result = run_kiln({"eval", config_, "--checkpoint", "init"});
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const train::Json out = printed_json(result);
  ASSERT_TRUE(out.is_object()) << result.output;
  EXPECT_EQ(out.at("step").get<int64_t>(), 0);
  // The untrained network's held-out loss is above the trained one's.
  EXPECT_GT(out.at("loss").get<double>(), summary_.at("eval_loss").get<double>());
}

TEST_F(EvalCli, MissingWeightsAreAClearError) {
  CommandResult result = run_kiln({"eval", config_, "--checkpoint", run_dir().string(), "--ema"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.output.find("has no ema_model weights"), std::string::npos) << result.output;

  result = run_kiln({"eval", config_, "--checkpoint", (dir_.path() / "nowhere").string()});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.output.find("nowhere"), std::string::npos) << result.output;
}

}  // namespace
}  // namespace kiln::testing
