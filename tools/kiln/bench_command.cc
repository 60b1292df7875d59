#include <cstdio>

#include "absl/strings/str_format.h"
#include "kiln/train/bench.h"
#include "tools/kiln/commands.h"

namespace kiln::cli {

namespace {
constexpr char kHelp[] =
    "usage: kiln bench CONFIG [--set a.b=value ...] [--json]\n"
    "       kiln bench --ops [--json]\n"
    "\n"
    "Times training steps of CONFIG's model, loss and optimizer on random inputs\n"
    "(3 warm-up steps, then 10 timed; all cores unless train.threads says\n"
    "otherwise) and prints the median, min and max step time, examples/s, FLOPs\n"
    "per step (matmul, convolution and attention, 2 per multiply-add) and\n"
    "GFLOP/s. --ops times the op-level workloads matmul_1024 and conv3x3_256.\n"
    "--json prints one JSON object per workload.\n";

void print(const train::BenchResult& r, bool json) {
  if (json) {
    std::printf("%s\n", r.to_json().dump().c_str());
    return;
  }
  std::printf("%s\n", absl::StrFormat("%-14s median %.4f s (min %.4f, max %.4f)  %.1f examples/s  "
                                      "%.3g FLOP/step  %.1f GFLOP/s  peak RSS %.0f MiB",
                                      r.name, r.median_step_s, r.min_step_s, r.max_step_s,
                                      r.examples_per_s, static_cast<double>(r.flops_per_step),
                                      r.gflops, static_cast<double>(r.peak_rss_bytes) / (1 << 20))
                          .c_str());
}
}  // namespace

int bench_command(const std::vector<std::string>& argv) {
  int exit_code = 0;
  const std::optional<Args> args = parse_command(argv, kHelp, {}, {"json", "ops"}, exit_code);
  if (!args) return exit_code;
  const bool json = args->has_flag("json");
  if (args->has_flag("ops")) {
    for (const train::BenchResult& r : train::bench_ops({})) print(r, json);
    return 0;
  }
  if (args->positional.size() != 1) return usage(kHelp);
  absl::StatusOr<train::ExperimentConfig> config =
      train::load_experiment(args->positional[0], args->sets);
  if (!config.ok()) return fail(std::string(config.status().message()));
  absl::StatusOr<train::BenchResult> result = train::bench_config(*config, {});
  if (!result.ok()) return fail(std::string(result.status().message()));
  print(*result, json);
  return 0;
}

}  // namespace kiln::cli
