#include <unistd.h>

#include <cstdio>

#include "kiln/train/sweep.h"
#include "kiln/train/trainer.h"
#include "tools/kiln/commands.h"

namespace kiln::cli {

namespace {
constexpr char kHelp[] =
    "usage: kiln sweep ABLATION [--set a.b=value ...] [--only TEXT]\n"
    "\n"
    "Runs ABLATION's base config under each point of its grid (or list) of\n"
    "overrides, one after another, into ABLATION's output_dir/<point>. A finished\n"
    "point is not run again and an interrupted one resumes, so running the same\n"
    "command again continues a sweep. Writes results.csv, results.md and\n"
    "results.svg. --set overrides keys of the ablation file itself (e.g.\n"
    "--set set.train.steps=100 is not valid: use --set 'set={\"train.steps\":100}').\n"
    "--only runs the points whose name contains TEXT. With a \"fit\" section the\n"
    "fitted power law (y = a * x^b on the lower envelope) is printed and written\n"
    "to fit.json.\n";
}  // namespace

int sweep_command(const std::vector<std::string>& argv) {
  int exit_code = 0;
  const std::optional<Args> args = parse_command(argv, kHelp, {"only"}, {}, exit_code);
  if (!args) return exit_code;
  if (args->positional.size() != 1) return usage(kHelp);
  absl::StatusOr<train::SweepSpec> spec = train::load_sweep(args->positional[0], args->sets);
  if (!spec.ok()) return fail(std::string(spec.status().message()));
  train::install_stop_signal_handlers();
  train::SweepOptions options;
  options.interactive = isatty(fileno(stdout)) != 0;
  options.only = args->option("only").value_or("");
  absl::StatusOr<train::Json> rows = train::run_sweep(*spec, options);
  if (!rows.ok()) return fail(std::string(rows.status().message()));
  if (spec->fit) {
    absl::StatusOr<train::PowerLawFit> fit = train::fit_sweep(*spec, *rows);
    if (fit.ok()) {
      std::printf("fit: %s = %.6g * %s^b, b = %.4f (R^2 %.3f, %zu points%s)\n",
                  spec->fit->y.c_str(), fit->a, spec->fit->x.c_str(), fit->b, fit->r2,
                  fit->points.size(), spec->fit->frontier ? " on the lower envelope" : "");
    } else {
      std::printf("fit: %s\n", std::string(fit.status().message()).c_str());
    }
  }
  std::printf("results: %s/results.md\n", spec->output_dir.c_str());
  return 0;
}

}  // namespace kiln::cli
