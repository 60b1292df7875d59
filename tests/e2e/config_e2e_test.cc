// Bad configs give one clear error naming the file and the key path, from
// the library and from the CLI.
#include <gtest/gtest.h>

#include <fstream>

#include "kiln/train/experiment_config.h"
#include "tests/e2e/e2e_util.h"

namespace kiln::testing {
namespace {

std::string error_of(const train::Json& json, const std::vector<std::string>& sets = {}) {
  TempDir dir;
  const std::string path = write_config(dir.path(), "bad.json", json);
  absl::StatusOr<train::ExperimentConfig> config = train::load_experiment(path, sets);
  if (config.ok()) return "";
  std::string message(config.status().message());
  // Messages name the file; strip the temp path for stable comparisons.
  const size_t at = message.find(path);
  if (at != std::string::npos) message.replace(at, path.size(), "bad.json");
  return message;
}

train::Json base() { return tiny_config("/tmp/unused"); }

TEST(ConfigErrors, UnknownKeySuggestsTheClosest) {
  EXPECT_EQ(error_of(base()), "");
  train::Json typo = base();
  typo["train"]["stpes"] = 10;
  EXPECT_EQ(error_of(typo),
            "bad.json: key train.stpes is not a known key; did you mean \"steps\"?");
}

TEST(ConfigErrors, WrongTypeNamesKeyAndType) {
  train::Json json = base();
  json["data"]["batch_size"] = "sixteen";
  EXPECT_EQ(error_of(json), "bad.json: key data.batch_size must be an integer, got a string");
}

TEST(ConfigErrors, OutOfRange) {
  train::Json json = base();
  json["optimizer"]["momentum"] = 1.5;
  EXPECT_EQ(error_of(json), "bad.json: key optimizer.momentum must be in [0, 1), got 1.5");
}

TEST(ConfigErrors, UnknownEnumValue) {
  train::Json json = base();
  json["optimizer"]["name"] = "adamm";
  EXPECT_EQ(error_of(json),
            "bad.json: key optimizer.name has unknown value \"adamm\"; did you mean \"adam\"?");
}

TEST(ConfigErrors, DuplicateKeys) {
  TempDir dir;
  const std::string path = (dir.path() / "dup.json").string();
  std::ofstream(path) << R"({"model": {"name": "convnet"}, "train": {"steps": 1, "steps": 2}})";
  absl::StatusOr<train::ExperimentConfig> config = train::load_experiment(path);
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.status().message().find("key \"steps\" appears twice"), std::string::npos)
      << config.status();
}

TEST(ConfigErrors, MalformedJsonNamesTheFile) {
  TempDir dir;
  const std::string path = (dir.path() / "broken.json").string();
  std::ofstream(path) << R"({"model": {"name": "convnet"},)";
  absl::StatusOr<train::ExperimentConfig> config = train::load_experiment(path);
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.status().message().find("broken.json: invalid JSON"), std::string::npos)
      << config.status();
}

TEST(ConfigErrors, SetOverridesAreCheckedLikeTheFile) {
  EXPECT_EQ(error_of(base(), {"train.steps=0"}),
            "bad.json: key train.steps must be in [1, 1e+12], got 0");
  EXPECT_EQ(error_of(base(), {"train.seeds=3"}),
            "bad.json: key train.seeds is not a known key; did you mean \"seed\"?");
  EXPECT_EQ(error_of(base(), {"no_equals_sign"}), "--set no_equals_sign: expected key.path=value");
}

TEST(Config, SetParsesJsonValuesAndStrings) {
  train::Json json = base();
  ASSERT_TRUE(train::apply_override(json, "train.steps=12").ok());
  ASSERT_TRUE(train::apply_override(json, "model.channels=[4,8]").ok());
  ASSERT_TRUE(train::apply_override(json, "optimizer.name=adamw").ok());
  ASSERT_TRUE(train::apply_override(json, "train.eval_with_ema=false").ok());
  EXPECT_EQ(json["train"]["steps"], 12);
  EXPECT_EQ(json["model"]["channels"], train::Json::parse("[4, 8]"));
  EXPECT_EQ(json["optimizer"]["name"], "adamw");
  EXPECT_EQ(json["train"]["eval_with_ema"], false);
}

TEST(Config, ExtendsMergesObjectsAndDetectsCycles) {
  TempDir dir;
  std::ofstream(dir.path() / "base.json")
      << R"({"model": {"name": "convnet", "hidden": 16}, "train": {"steps": 5, "seed": 1}})";
  std::ofstream(dir.path() / "child.json") << R"({"extends": "base.json", "train": {"steps": 9}})";
  absl::StatusOr<train::ExperimentConfig> config =
      train::load_experiment((dir.path() / "child.json").string());
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->train.steps, 9);
  EXPECT_EQ(config->train.seed, 1u);
  EXPECT_EQ(config->model.options["hidden"], 16);

  std::ofstream(dir.path() / "a.json") << R"({"extends": "b.json"})";
  std::ofstream(dir.path() / "b.json") << R"({"extends": "a.json"})";
  absl::StatusOr<train::ExperimentConfig> cycle =
      train::load_experiment((dir.path() / "a.json").string());
  ASSERT_FALSE(cycle.ok());
  EXPECT_NE(cycle.status().message().find("cycle"), std::string::npos) << cycle.status();
}

TEST(Cli, BadConfigIsOneLineAndExitCodeOne) {
  TempDir dir;
  train::Json json = base();
  json["model"]["name"] = "convnt";
  const std::string path = write_config(dir.path(), "bad.json", json);
  CommandResult r = run_kiln({"train", path});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.output, "kiln: " + path +
                          ": key model.name has unknown value \"convnt\"; did you mean "
                          "\"convnet\"?\n");
}

TEST(Cli, HelpAndUsage) {
  EXPECT_EQ(run_kiln({"--help"}).exit_code, 0);
  EXPECT_EQ(run_kiln({"train", "--help"}).exit_code, 0);
  EXPECT_EQ(run_kiln({"frobnicate"}).exit_code, 2);
  EXPECT_EQ(run_kiln({"train", "--bogus"}).exit_code, 1);
}

TEST(Cli, InfoCountsParametersAndFlops) {
  TempDir dir;
  const std::string path = write_config(dir.path(), "tiny.json", base());
  CommandResult r = run_kiln({"info", path, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const train::Json info = train::Json::parse(r.output);
  // conv 3x3x1x8 + 8, head 8x16 + 16, 16x4 + 4.
  EXPECT_EQ(info["params"], 72 + 8 + 128 + 16 + 64 + 4);
  // conv: 8*8 outputs * 8 channels * 9 MACs * 2; head: (8*16 + 16*4) * 2.
  EXPECT_EQ(info["forward_flops_per_example"], 64 * 8 * 9 * 2 + (8 * 16 + 16 * 4) * 2);
}

}  // namespace
}  // namespace kiln::testing
