#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "kiln/train/distributed.h"
#include "kiln/train/trainer.h"
#include "tools/kiln/commands.h"

namespace kiln::cli {

namespace {
constexpr char kHelp[] =
    "usage: kiln train CONFIG [--set a.b=value ...] [--resume RUN_DIR]\n"
    "       kiln train --resume RUN_DIR [--set ...]\n"
    "\n"
    "Trains the model of CONFIG (see configs/README.md). --set overrides a key\n"
    "(numbers, strings, true/false, null, JSON lists). --resume continues the\n"
    "run in RUN_DIR from its newest checkpoint (with RUN_DIR/config.json when\n"
    "CONFIG is omitted); the run continues exactly as if never interrupted.\n"
    "SIGINT/SIGTERM/SIGUSR1 finish the current step, save a checkpoint and exit.\n"
    "\n"
    "Data-parallel: mpirun -np N [--host a,b] kiln train CONFIG trains on N\n"
    "processes (data.batch_size is the global batch, divisible by N); see\n"
    "docs/distributed.md. --collective-timeout SECONDS (default 600) ends the\n"
    "job when a rank stalls or dies instead of waiting forever.\n";

// Rank 0 loads the config and hands it to the other ranks, so only its host
// needs the config file (and the run directory when resuming).
absl::StatusOr<train::ExperimentConfig> load_config(train::Communicator& comm,
                                                    const std::string& path,
                                                    const std::vector<std::string>& sets) {
  if (comm.world_size() == 1) return train::load_experiment(path, sets);
  absl::StatusOr<train::ExperimentConfig> config;
  std::string text;
  if (comm.is_root()) {
    config = train::load_experiment(path, sets);
    text = config.ok() ? train::Json{{"file", config->file}, {"config", config->resolved}}.dump()
                       : train::Json{{"error", std::string(config.status().message())}}.dump();
  }
  comm.broadcast(text, "broadcast of the config from rank 0");
  if (comm.is_root()) {
    return config.ok() ? config : train::agreed_failure(config.status());
  }
  const train::Json json = train::Json::parse(text);
  if (json.contains("error")) {
    return train::agreed_failure(absl::CancelledError("rank 0 could not load the config"));
  }
  config = train::parse_experiment(json.at("config"), json.at("file").get<std::string>());
  return config.ok() ? config : train::agreed_failure(config.status());
}

// Reports a failure. One process: the message. Several: each rank prints
// its own failure (rank 0 also those it learnt of); a failure the other
// ranks do not know of ends the whole job, since they may be waiting for
// this rank in a collective.
int report_failure(train::Communicator& comm, const absl::Status& status) {
  const std::string message(status.message());
  if (comm.world_size() == 1) return fail(message);
  if (!train::is_agreed_failure(status)) comm.abort(message, 1);
  if (!absl::IsCancelled(status) || comm.is_root()) {
    return fail(absl::StrCat("rank ", comm.rank(), " of ", comm.world_size(), ": ", message));
  }
  return 1;
}
}  // namespace

int train_command(const std::vector<std::string>& argv) {
  int exit_code = 0;
  const std::optional<Args> args =
      parse_command(argv, kHelp, {"resume", "stop-after", "collective-timeout"}, {}, exit_code);
  if (!args) return exit_code;
  const std::optional<std::string> resume = args->option("resume");
  std::string config_path;
  if (args->positional.size() == 1) {
    config_path = args->positional[0];
  } else if (args->positional.empty() && resume) {
    config_path = (std::filesystem::path(*resume) / "config.json").string();
  } else {
    return usage(kHelp);
  }
  train::CommunicatorOptions comm_options;
  if (auto timeout = args->option("collective-timeout")) {
    char* end = nullptr;
    comm_options.timeout_seconds = std::strtod(timeout->c_str(), &end);
    if (end == timeout->c_str() || *end != '\0' || !(comm_options.timeout_seconds > 0)) {
      return fail("--collective-timeout needs a number of seconds > 0, got " + *timeout);
    }
  }
  absl::StatusOr<std::unique_ptr<train::Communicator>> comm =
      train::make_world_communicator(comm_options);
  if (!comm.ok()) return fail(std::string(comm.status().message()));

  std::vector<std::string> sets = args->sets;
  if (resume) sets.push_back("output_dir=\"" + *resume + "\"");
  absl::StatusOr<train::ExperimentConfig> config = load_config(**comm, config_path, sets);
  if (!config.ok()) return report_failure(**comm, config.status());

  train::TrainOptions options;
  options.resume = resume.has_value();
  options.interactive = isatty(fileno(stdout)) != 0;
  options.communicator = comm->get();
  if (auto stop = args->option("stop-after")) options.stop_after = std::stoll(*stop);
  train::install_stop_signal_handlers();
  absl::StatusOr<train::TrainResult> result = train::train(*config, options);
  if (!result.ok()) return report_failure(**comm, result.status());
  if (!(*comm)->is_root()) return 0;  // rank 0 reports
  const train::Json& s = result->summary;
  std::printf("%s\n",
              absl::StrFormat("done: %d steps, %.1f examples/s, wall %.1fs -> %s",
                              s["steps"].get<int64_t>(), s["examples_per_second"].get<double>(),
                              s["wall_seconds"].get<double>(), config->output_dir)
                  .c_str());
  if (s.contains("eval_accuracy")) {
    std::printf("test accuracy: %.4f\n", s["eval_accuracy"].get<double>());
  }
  if (s.contains("eval_bits_per_byte")) {
    std::printf("held-out bits per byte: %.4f\n", s["eval_bits_per_byte"].get<double>());
  }
  return 0;
}

}  // namespace kiln::cli
