// End to end: training learns, the same seed gives the same bits, a stopped
// or killed run resumes exactly, and corrupt checkpoints are reported.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "kiln/train/checkpoint.h"
#include "kiln/train/trainer.h"
#include "tests/e2e/e2e_util.h"

namespace kiln::testing {
namespace {

namespace fs = std::filesystem;

train::ExperimentConfig parse(const train::Json& json) {
  absl::StatusOr<train::ExperimentConfig> config = train::parse_experiment(json, "test.json");
  EXPECT_TRUE(config.ok()) << config.status();
  return *config;
}

train::TrainOptions quiet() {
  train::TrainOptions options;
  options.console = std::fopen("/dev/null", "w");
  return options;
}

TEST(TrainE2E, OverfitsOneBatch) {
  TempDir dir;
  train::Json json = tiny_config(dir.path() / "run");
  json["data"]["num_examples"] = 16;  // one batch, seen again and again
  json["data"]["shuffle"] = false;
  json["train"]["steps"] = 100;
  json["model"] = {{"name", "mlp_classifier"}, {"hidden", {64}}};
  json["optimizer"] = {{"name", "adam"}, {"lr", 1e-2}};
  absl::StatusOr<train::TrainResult> result = train::train(parse(json), quiet());
  ASSERT_TRUE(result.ok()) << result.status();
  const auto losses = read_losses(dir.path() / "run");
  EXPECT_LT(losses.at(100), 0.02 * losses.at(1)) << "first " << losses.at(1);
}

TEST(TrainE2E, SameSeedGivesTheSameBits) {
  TempDir dir;
  ASSERT_TRUE(train::train(parse(tiny_config(dir.path() / "a")), quiet()).ok());
  ASSERT_TRUE(train::train(parse(tiny_config(dir.path() / "b")), quiet()).ok());
  const auto a = read_losses(dir.path() / "a");
  EXPECT_EQ(a.size(), 30u);
  EXPECT_EQ(a, read_losses(dir.path() / "b"));
}

// train.precision "bf16" rounds the matmul and conv operands, so its losses
// differ from f32 in the low bits but follow the same curve; the master
// weights stay f32, so the checkpoint holds f32 tensors.
TEST(TrainE2E, Bf16TrainingTracksF32) {
  TempDir dir;
  ASSERT_TRUE(train::train(parse(tiny_config(dir.path() / "f32")), quiet()).ok());
  train::Json json = tiny_config(dir.path() / "bf16");
  json["train"]["precision"] = "bf16";
  ASSERT_TRUE(train::train(parse(json), quiet()).ok());
  const auto f32 = read_losses(dir.path() / "f32");
  const auto bf16 = read_losses(dir.path() / "bf16");
  ASSERT_EQ(f32.size(), bf16.size());
  EXPECT_NE(f32, bf16);
  for (const auto& [step, loss] : f32) {
    EXPECT_NEAR(bf16.at(step), loss, 0.05 * loss + 0.02) << "step " << step;
  }
  absl::StatusOr<train::Checkpoint> latest =
      train::CheckpointManager((dir.path() / "bf16" / "checkpoints").string(), 1).load_latest();
  ASSERT_TRUE(latest.ok()) << latest.status();
  for (const auto& [name, tensor] : latest->groups.at("model")) {
    EXPECT_EQ(tensor.dtype(), DType::kF32) << name;
  }
}

TEST(TrainE2E, StoppedRunResumesExactly) {
  TempDir dir;
  ASSERT_TRUE(train::train(parse(tiny_config(dir.path() / "full")), quiet()).ok());

  train::TrainOptions stop = quiet();
  stop.stop_after = 13;  // not a checkpoint step: the stop saves one itself
  absl::StatusOr<train::TrainResult> first =
      train::train(parse(tiny_config(dir.path() / "cut")), stop);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(first->interrupted);
  train::TrainOptions resume = quiet();
  resume.resume = true;
  absl::StatusOr<train::TrainResult> second =
      train::train(parse(tiny_config(dir.path() / "cut")), resume);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(read_losses(dir.path() / "full"), read_losses(dir.path() / "cut"));
}

TEST(TrainE2E, RefusesToOverwriteARunWithoutResume) {
  TempDir dir;
  ASSERT_TRUE(train::train(parse(tiny_config(dir.path() / "run")), quiet()).ok());
  absl::StatusOr<train::TrainResult> again =
      train::train(parse(tiny_config(dir.path() / "run")), quiet());
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.status().message().find("already holds a run"), std::string::npos);
}

TEST(TrainE2E, KillNineThenResumeContinuesExactly) {
  TempDir dir;
  train::Json json = tiny_config(dir.path() / "killed");
  json["train"]["steps"] = 60;
  json["train"]["checkpoint_every"] = 4;
  const std::string config = write_config(dir.path(), "killed.json", json);
  json["output_dir"] = (dir.path() / "full").string();
  const std::string full_config = write_config(dir.path(), "full.json", json);
  ASSERT_EQ(run_kiln({"train", full_config}).exit_code, 0);

  // Start a run and kill -9 it part way, at a moment chosen by the clock.
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    std::freopen("/dev/null", "w", stdout);
    execl(KILN_CLI_PATH, KILN_CLI_PATH, "train", config.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (std::chrono::steady_clock::now() < deadline) {
    if (read_losses(dir.path() / "killed").size() >= 23) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  kill(child, SIGKILL);
  int status = 0;
  waitpid(child, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the run finished before it was killed";

  CommandResult resumed = run_kiln({"train", "--resume", (dir.path() / "killed").string()});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_EQ(read_losses(dir.path() / "full"), read_losses(dir.path() / "killed"));
}

TEST(TrainE2E, CorruptNewestCheckpointFallsBackToTheOneBefore) {
  TempDir dir;
  train::Json json = tiny_config(dir.path() / "run");
  ASSERT_TRUE(train::train(parse(json), quiet()).ok());
  const fs::path newest = dir.path() / "run" / "checkpoints" / "step_0000000030";
  ASSERT_TRUE(fs::exists(newest / "model.safetensors"));
  fs::resize_file(newest / "model.safetensors", 100);  // truncated

  absl::StatusOr<train::Checkpoint> loaded =
      train::CheckpointManager((dir.path() / "run" / "checkpoints").string(), 3).load_latest();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->step, 20);

  absl::StatusOr<train::Checkpoint> direct = train::CheckpointManager::load(newest.string());
  ASSERT_FALSE(direct.ok());
  EXPECT_NE(direct.status().message().find("model.safetensors"), std::string::npos)
      << direct.status();
}

TEST(TrainE2E, AllCheckpointsCorruptIsAClearError) {
  TempDir dir;
  ASSERT_TRUE(train::train(parse(tiny_config(dir.path() / "run")), quiet()).ok());
  for (const auto& entry : fs::directory_iterator(dir.path() / "run" / "checkpoints")) {
    if (entry.is_directory()) {
      std::ofstream(entry.path() / "manifest.json", std::ios::trunc) << "{ not json";
    }
  }
  train::TrainOptions resume = quiet();
  resume.resume = true;
  absl::StatusOr<train::TrainResult> result =
      train::train(parse(tiny_config(dir.path() / "run")), resume);
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.status().message().find("manifest.json"), std::string::npos) << result.status();
  EXPECT_NE(result.status().message().find("invalid JSON"), std::string::npos) << result.status();
}

TEST(TrainE2E, SummaryHoldsTheAveragedFinalLossAndTheSkippedSteps) {
  TempDir dir;
  absl::StatusOr<train::TrainResult> result =
      train::train(parse(tiny_config(dir.path() / "run")), quiet());
  ASSERT_TRUE(result.ok()) << result.status();
  const auto losses = read_losses(dir.path() / "run");
  // 30 steps: the mean over the last 3.
  const double mean = (losses.at(28) + losses.at(29) + losses.at(30)) / 3;
  EXPECT_NEAR(result->summary.at("final_train_loss_avg").get<double>(), mean, 1e-6);
  EXPECT_EQ(result->summary.at("skipped_steps").get<int64_t>(), 0);

  // A linear network and a learning rate that overflow the weights: every
  // later step has non-finite gradients and is skipped, and the run still
  // finishes.
  train::Json json = tiny_config(dir.path() / "diverged");
  json["model"]["activation"] = "identity";
  json["optimizer"]["lr"] = 1e6;
  json["optimizer"]["max_consecutive_skips"] = 1000;
  absl::StatusOr<train::TrainResult> diverged = train::train(parse(json), quiet());
  ASSERT_TRUE(diverged.ok()) << diverged.status();
  const int64_t skipped = diverged->summary.at("skipped_steps").get<int64_t>();
  EXPECT_GT(skipped, 0);
  EXPECT_LT(skipped, 30);
}

TEST(TrainE2E, CheckpointsKeepTheLastK) {
  TempDir dir;
  train::Json json = tiny_config(dir.path() / "run");
  json["train"]["checkpoint_every"] = 5;
  json["train"]["keep_checkpoints"] = 2;
  ASSERT_TRUE(train::train(parse(json), quiet()).ok());
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir.path() / "run" / "checkpoints")) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"LATEST", "step_0000000025", "step_0000000030"}));
}

}  // namespace
}  // namespace kiln::testing
