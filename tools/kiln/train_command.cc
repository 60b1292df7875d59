#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "absl/strings/str_format.h"
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
    "SIGINT/SIGTERM finish the current step, save a checkpoint and exit.\n";
}  // namespace

int train_command(const std::vector<std::string>& argv) {
  absl::StatusOr<Args> args = parse_args(argv, {"resume", "stop-after"}, {});
  if (!args.ok()) return fail(std::string(args.status().message()));
  if (args->help) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  const std::optional<std::string> resume = args->option("resume");
  std::string config_path;
  if (args->positional.size() == 1) {
    config_path = args->positional[0];
  } else if (args->positional.empty() && resume) {
    config_path = (std::filesystem::path(*resume) / "config.json").string();
  } else {
    std::fputs(kHelp, stderr);
    return 2;
  }
  std::vector<std::string> sets = args->sets;
  if (resume) sets.push_back("output_dir=\"" + *resume + "\"");
  absl::StatusOr<train::ExperimentConfig> config = train::load_experiment(config_path, sets);
  if (!config.ok()) return fail(std::string(config.status().message()));

  train::TrainOptions options;
  options.resume = resume.has_value();
  options.interactive = isatty(fileno(stdout)) != 0;
  if (auto stop = args->option("stop-after")) options.stop_after = std::stoll(*stop);
  train::install_stop_signal_handlers();
  absl::StatusOr<train::TrainResult> result = train::train(*config, options);
  if (!result.ok()) return fail(std::string(result.status().message()));
  const train::Json& s = result->summary;
  std::printf("%s\n", absl::StrFormat("done: %d steps, %.1f examples/s, wall %.1fs -> %s",
                                      s["steps"].get<int64_t>(),
                                      s["examples_per_second"].get<double>(),
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
