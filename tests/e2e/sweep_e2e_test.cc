// kiln sweep: runs every point, tabulates and plots, and skips finished
// points when run again.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

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

TEST(SweepE2E, RunsTheGridTabulatesAndResumes) {
  TempDir dir;
  train::Json base = tiny_config(dir.path() / "unused");
  base["train"]["steps"] = 6;
  write_config(dir.path(), "base.json", base);
  const train::Json ablation = {
      {"base", "base.json"},
      {"set", {{"train.log_every", 3}}},
      {"grid", {{"optimizer.lr", {0.01, 0.1}}}},
      {"columns", {"final_train_loss", "eval_accuracy"}},
      {"plot", {{"x", "optimizer.lr"}, {"y", "final_train_loss"}, {"log_x", true}}},
      {"output_dir", (dir.path() / "sweep").string()},
  };
  const std::string path = write_config(dir.path(), "ablation.json", ablation);
  absl::StatusOr<train::SweepSpec> spec = train::load_sweep(path, {});
  ASSERT_TRUE(spec.ok()) << spec.status();
  ASSERT_EQ(spec->points.size(), 2u);
  EXPECT_EQ(spec->points[0].name, "lr=0.01");

  train::SweepOptions options;
  options.console = std::fopen("/dev/null", "w");
  absl::StatusOr<train::Json> rows = train::run_sweep(*spec, options);
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 2u);
  const std::string csv = read(dir.path() / "sweep" / "results.csv");
  EXPECT_EQ(csv.substr(0, csv.find('\n')), "point,optimizer.lr,final_train_loss,eval_accuracy");
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 3);
  EXPECT_NE(read(dir.path() / "sweep" / "results.md").find("| lr=0.1 | 0.1 |"), std::string::npos);
  EXPECT_NE(read(dir.path() / "sweep" / "results.svg").find("<polyline"), std::string::npos);

  // Run again: nothing retrains, the same summaries come back.
  const auto mtime = fs::last_write_time(dir.path() / "sweep" / "lr=0.01" / "summary.json");
  absl::StatusOr<train::Json> again = train::run_sweep(*spec, options);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(fs::last_write_time(dir.path() / "sweep" / "lr=0.01" / "summary.json"), mtime);
  EXPECT_EQ((*again)[1]["summary"], (*rows)[1]["summary"]);

  // A finished point whose config has since changed is not passed off as
  // the new result.
  absl::StatusOr<train::SweepSpec> changed =
      train::load_sweep(path, {"set={\"train.log_every\": 3, \"train.steps\": 7}"});
  ASSERT_TRUE(changed.ok()) << changed.status();
  absl::StatusOr<train::Json> refused = train::run_sweep(*changed, options);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("/train/steps differs"), std::string::npos)
      << refused.status();
}

TEST(SweepE2E, PointInterruptedBeforeItsFirstCheckpointRestartsAndKeepsThePartialRun) {
  TempDir dir;
  train::Json base = tiny_config(dir.path() / "unused");
  base["train"]["steps"] = 4;
  base["train"]["checkpoint_every"] = 0;
  write_config(dir.path(), "base.json", base);
  const train::Json ablation = {
      {"base", "base.json"},
      {"points", {{{"name", "only"}, {"set", {{"optimizer.lr", 0.01}}}}}},
      {"output_dir", (dir.path() / "sweep").string()},
  };
  const std::string path = write_config(dir.path(), "ablation.json", ablation);
  absl::StatusOr<train::SweepSpec> spec = train::load_sweep(path, {});
  ASSERT_TRUE(spec.ok()) << spec.status();
  // What a run killed before its first checkpoint leaves behind.
  const fs::path point = dir.path() / "sweep" / "only";
  fs::create_directories(point);
  std::ofstream(point / "metrics.jsonl") << "{\"step\": 1, \"loss\": 9}\n";

  train::SweepOptions options;
  options.console = std::fopen("/dev/null", "w");
  absl::StatusOr<train::Json> rows = train::run_sweep(*spec, options);
  ASSERT_TRUE(rows.ok()) << rows.status();
  EXPECT_TRUE(fs::exists(point / "summary.json"));
  EXPECT_EQ(read(dir.path() / "sweep" / "only.interrupted-1" / "metrics.jsonl"),
            "{\"step\": 1, \"loss\": 9}\n");
}

TEST(SweepE2E, BadAblationFileNamesTheKey) {
  TempDir dir;
  const std::string path = write_config(
      dir.path(), "bad.json", {{"base", "x.json"}, {"grid", {{"a", 3}}}, {"output_dir", "o"}});
  absl::StatusOr<train::SweepSpec> spec = train::load_sweep(path, {});
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().message(), path + ": key grid.a must be a non-empty list of values");
}

}  // namespace
}  // namespace kiln::testing
