// End to end on MPI: `mpirun -np 2 kiln train` gives the weights one process
// gives on the same global batch (SGD with AGC, AdamW), a run resumes on a
// different number of ranks, evaluation is sharded and reduced, and a
// stalled or killed rank ends the job (the watchdog's message) with the last
// checkpoint intact. Skipped when kiln was built without MPI or mpirun is
// missing.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "kiln/train/checkpoint.h"
#include "kiln/train/distributed.h"
#include "tests/e2e/e2e_util.h"

extern char** environ;

namespace kiln::testing {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

bool mpirun_available() { return std::system("command -v mpirun > /dev/null 2>&1") == 0; }

#define KILN_REQUIRE_MPI()                                                      \
  do {                                                                          \
    if (!train::built_with_mpi()) GTEST_SKIP() << "kiln was built without MPI"; \
    if (!mpirun_available()) GTEST_SKIP() << "mpirun is not installed";         \
  } while (false)

// The shell command running kiln on `np` ranks with mpirun. CI runs as root;
// the cores are few and shared, so ranks may share them; shared-memory
// single-copy is off (containers often forbid it); leak checks are off
// (OpenMPI keeps its allocations until exit). `timeout` guards against a
// hang the watchdog should have caught.
std::string mpirun_command(int np, const std::vector<std::string>& args) {
  std::string command =
      "env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 "
      "OMPI_MCA_btl_vader_single_copy_mechanism=none ASAN_OPTIONS=detect_leaks=0 "
      "timeout -k 10 300 mpirun --oversubscribe --allow-run-as-root --bind-to none";
  absl::StrAppend(&command, " -np ", np, " ", KILN_CLI_PATH);
  for (const std::string& a : args) absl::StrAppend(&command, " '", a, "'");
  return command;
}

CommandResult run_shell(const std::string& command) {
  CommandResult result;
  std::FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) result.output.append(buffer, n);
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

CommandResult run_ranks(int np, const std::vector<std::string>& args) {
  return run_shell(mpirun_command(np, args));
}

// A small ConvNet on learnable synthetic images, logging every step, one
// thread per process. No dropout, no MixUp: a run on N ranks then computes
// exactly what one process computes, up to float rounding.
train::Json config_for(const fs::path& output_dir, const train::Json& optimizer) {
  train::Json json = tiny_config(output_dir);
  json["train"]["steps"] = 20;
  json["train"]["threads"] = 1;
  json["train"]["checkpoint_every"] = 10;
  json["train"]["eval_every"] = 10;
  json["data"]["eval_batch_size"] = 8;
  json["optimizer"] = optimizer;
  return json;
}

const train::Json kSgdAgc = {
    {"name", "sgd"},        {"lr", 0.1},
    {"momentum", 0.9},      {"nesterov", true},
    {"weight_decay", 1e-4}, {"agc", {{"clipping", 0.02}, {"exclude", {"head"}}}}};
const train::Json kAdamW = {{"name", "adamw"}, {"lr", 3e-3}, {"weight_decay", 0.05}};

std::map<std::string, std::vector<double>> final_weights(const fs::path& run_dir) {
  absl::StatusOr<train::Checkpoint> checkpoint =
      train::CheckpointManager((run_dir / "checkpoints").string(), 3).load_latest();
  EXPECT_TRUE(checkpoint.ok()) << checkpoint.status();
  std::map<std::string, std::vector<double>> weights;
  if (!checkpoint.ok()) return weights;
  EXPECT_EQ(checkpoint->step, 20);
  for (const auto& [name, tensor] : checkpoint->groups.at("model"))
    weights[name] = to_vector(tensor);
  return weights;
}

void expect_same_weights(const fs::path& a, const fs::path& b, double tolerance) {
  const auto wa = final_weights(a), wb = final_weights(b);
  ASSERT_FALSE(wa.empty());
  ASSERT_EQ(wa.size(), wb.size());
  double worst = 0;
  for (const auto& [name, values] : wa) {
    ASSERT_EQ(values.size(), wb.at(name).size()) << name;
    for (size_t i = 0; i < values.size(); ++i) {
      worst = std::max(worst, std::abs(values[i] - wb.at(name)[i]));
    }
  }
  EXPECT_LT(worst, tolerance) << "largest weight difference between " << a << " and " << b;
}

void expect_same_losses(const std::map<int64_t, double>& a, const std::map<int64_t, double>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [step, loss] : a) {
    EXPECT_NEAR(loss, b.at(step), 1e-4 * std::max(1.0, std::abs(loss))) << "step " << step;
  }
}

train::Json read_json(const fs::path& path) {
  std::ifstream in(path);
  return train::Json::parse(in);
}

int count_lines(const fs::path& path) {
  std::ifstream in(path);
  int lines = 0;
  for (std::string line; std::getline(in, line);) ++lines;
  return lines;
}

void expect_two_ranks_match_one_process(const train::Json& optimizer) {
  TempDir dir;
  const std::string one =
      write_config(dir.path(), "one.json", config_for(dir.path() / "one", optimizer));
  const std::string two =
      write_config(dir.path(), "two.json", config_for(dir.path() / "two", optimizer));
  const CommandResult single = run_kiln({"train", one});
  ASSERT_EQ(single.exit_code, 0) << single.output;
  const CommandResult ranks = run_ranks(2, {"train", two});
  ASSERT_EQ(ranks.exit_code, 0) << ranks.output;

  expect_same_weights(dir.path() / "one", dir.path() / "two", 1e-5);
  expect_same_losses(read_losses(dir.path() / "one"), read_losses(dir.path() / "two"));
  // Sharded evaluation reduces to the whole held-out set's metrics.
  const train::Json s1 = read_json(dir.path() / "one" / "summary.json");
  const train::Json s2 = read_json(dir.path() / "two" / "summary.json");
  EXPECT_NEAR(s1["eval_loss"].get<double>(), s2["eval_loss"].get<double>(), 1e-5);
  EXPECT_EQ(s1["eval_accuracy"].get<double>(), s2["eval_accuracy"].get<double>());
  EXPECT_EQ(s2["ranks"].get<int>(), 2);
  // Only rank 0 logs and reports: one record per step and per evaluation.
  EXPECT_EQ(count_lines(dir.path() / "one" / "metrics.jsonl"),
            count_lines(dir.path() / "two" / "metrics.jsonl"));
  size_t done_lines = 0;
  for (size_t at = ranks.output.find("done: "); at != std::string::npos;
       at = ranks.output.find("done: ", at + 1)) {
    ++done_lines;
  }
  EXPECT_EQ(done_lines, 1u) << ranks.output;
  EXPECT_NE(ranks.output.find("2 ranks (8 examples each per step)"), std::string::npos)
      << ranks.output;
}

TEST(MpiE2E, TwoRanksGiveTheWeightsOfOneProcessWithSgdAndAgc) {
  KILN_REQUIRE_MPI();
  expect_two_ranks_match_one_process(kSgdAgc);
}

TEST(MpiE2E, TwoRanksGiveTheWeightsOfOneProcessWithAdamW) {
  KILN_REQUIRE_MPI();
  expect_two_ranks_match_one_process(kAdamW);
}

TEST(MpiE2E, ResumesOnADifferentNumberOfRanks) {
  KILN_REQUIRE_MPI();
  TempDir dir;
  const std::string full =
      write_config(dir.path(), "full.json", config_for(dir.path() / "full", kSgdAgc));
  ASSERT_EQ(run_kiln({"train", full}).exit_code, 0);

  // Two ranks for 7 steps (the stop saves a checkpoint), then one process.
  const std::string a = write_config(dir.path(), "a.json", config_for(dir.path() / "a", kSgdAgc));
  CommandResult first = run_ranks(2, {"train", a, "--stop-after", "7"});
  ASSERT_EQ(first.exit_code, 0) << first.output;
  EXPECT_EQ(read_losses(dir.path() / "a").size(), 7u);
  CommandResult second = run_kiln({"train", "--resume", (dir.path() / "a").string()});
  ASSERT_EQ(second.exit_code, 0) << second.output;
  expect_same_losses(read_losses(dir.path() / "full"), read_losses(dir.path() / "a"));
  expect_same_weights(dir.path() / "full", dir.path() / "a", 1e-5);

  // One process for 13 steps, then two ranks.
  const std::string b = write_config(dir.path(), "b.json", config_for(dir.path() / "b", kSgdAgc));
  first = run_kiln({"train", b, "--stop-after", "13"});
  ASSERT_EQ(first.exit_code, 0) << first.output;
  second = run_ranks(2, {"train", "--resume", (dir.path() / "b").string()});
  ASSERT_EQ(second.exit_code, 0) << second.output;
  EXPECT_NE(second.output.find("resumed at step 13"), std::string::npos) << second.output;
  expect_same_losses(read_losses(dir.path() / "full"), read_losses(dir.path() / "b"));
  expect_same_weights(dir.path() / "full", dir.path() / "b", 1e-5);
}

TEST(MpiE2E, AGlobalBatchThatDoesNotDivideIsAClearError) {
  KILN_REQUIRE_MPI();
  TempDir dir;
  train::Json json = config_for(dir.path() / "run", kAdamW);
  json["data"]["batch_size"] = 15;
  const CommandResult result = run_ranks(2, {"train", write_config(dir.path(), "c.json", json)});
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.output.find("data.batch_size (15, the global batch) must be divisible by the "
                               "number of ranks (2)"),
            std::string::npos)
      << result.output;
  EXPECT_EQ(result.output.find("MPI_ABORT"), std::string::npos) << result.output;
}

// A job started in the background, its output going to a file.
class BackgroundJob {
 public:
  BackgroundJob(const std::string& command, const fs::path& log) : log_(log) {
    const std::string shell = command + " > '" + log.string() + "' 2>&1";
    const char* argv[] = {"/bin/sh", "-c", shell.c_str(), nullptr};
    EXPECT_EQ(posix_spawn(&pid_, "/bin/sh", nullptr, nullptr, const_cast<char**>(argv), environ),
              0);
  }
  ~BackgroundJob() {
    if (!finished_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  // Waits up to `limit`; the exit code, or -1 if still running.
  int wait_for(std::chrono::seconds limit) {
    const Clock::time_point deadline = Clock::now() + limit;
    while (Clock::now() < deadline) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        finished_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return -1;
  }
  std::string output() const {
    std::ifstream in(log_);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

 private:
  fs::path log_;
  pid_t pid_ = -1;
  bool finished_ = false;
};

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The pid of the kiln process running as MPI rank `rank` with `marker` on
// its command line, or -1.
pid_t find_rank(int rank, const std::string& marker) {
  const std::string wanted = absl::StrCat("OMPI_COMM_WORLD_RANK=", rank);
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    const std::string cmdline = read_file(entry.path() / "cmdline");
    if (cmdline.find(marker) == std::string::npos || cmdline.find("mpirun") != std::string::npos) {
      continue;
    }
    const std::string env = read_file(entry.path() / "environ");
    size_t at = 0;
    while (at < env.size()) {
      const size_t end = env.find('\0', at);
      if (env.compare(at, (end == std::string::npos ? env.size() : end) - at, wanted) == 0) {
        return static_cast<pid_t>(std::stol(name));
      }
      if (end == std::string::npos) break;
      at = end + 1;
    }
  }
  return -1;
}

// Starts a long 2-rank run checkpointing every 5 steps, waits for its first
// checkpoint, then sends `signal` to rank 1. Returns the job's exit code and
// output after it ended.
void stop_a_rank_and_expect_the_job_to_end(int signal, const std::string& expected_message) {
  TempDir dir;
  train::Json json = config_for(dir.path() / "run", kAdamW);
  json["train"]["steps"] = 1000000;
  json["train"]["checkpoint_every"] = 5;
  json["train"]["eval_every"] = 0;
  const std::string config = write_config(dir.path(), "stall.json", json);
  BackgroundJob job(mpirun_command(2, {"train", config, "--collective-timeout", "3"}),
                    dir.path() / "log.txt");
  const fs::path latest = dir.path() / "run" / "checkpoints" / "LATEST";
  const Clock::time_point deadline = Clock::now() + std::chrono::seconds(120);
  while (!fs::exists(latest) && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(fs::exists(latest)) << job.output();
  const pid_t rank1 = find_rank(1, config);
  ASSERT_GT(rank1, 0) << "rank 1 not found; output:\n" << job.output();
  ASSERT_EQ(kill(rank1, signal), 0);
  const Clock::time_point stopped = Clock::now();
  const int exit_code = job.wait_for(std::chrono::seconds(90));
  const double seconds = std::chrono::duration<double>(Clock::now() - stopped).count();
  // A stopped rank may outlive the job: end it (if it still is that rank).
  if (read_file(fs::path("/proc") / std::to_string(rank1) / "cmdline").find(config) !=
      std::string::npos) {
    kill(rank1, SIGKILL);
  }
  ASSERT_NE(exit_code, -1) << "the job still runs " << seconds << " s after rank 1 stopped";
  EXPECT_NE(exit_code, 0) << job.output();
  EXPECT_NE(job.output().find(expected_message), std::string::npos) << job.output();
  // The newest complete checkpoint loads.
  absl::StatusOr<train::Checkpoint> checkpoint =
      train::CheckpointManager((dir.path() / "run" / "checkpoints").string(), 3).load_latest();
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.status();
  EXPECT_GE(checkpoint->step, 5);
  EXPECT_EQ(checkpoint->step % 5, 0);
}

TEST(MpiE2E, AStalledRankEndsTheJobWithTheWatchdogMessage) {
  KILN_REQUIRE_MPI();
  // SIGSTOP: the rank is alive but makes no progress, as a hung process;
  // rank 0's next collective times out.
  stop_a_rank_and_expect_the_job_to_end(SIGSTOP, "did not complete within 3 s");
}

TEST(MpiE2E, AKilledRankEndsTheJob) {
  KILN_REQUIRE_MPI();
  // mpirun notices the death itself and ends the job (or the watchdog does).
  stop_a_rank_and_expect_the_job_to_end(SIGKILL, "rank 1");
}

}  // namespace
}  // namespace kiln::testing
