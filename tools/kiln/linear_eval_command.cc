// kiln linear-eval: HARES-style linear evaluation of a frozen encoder.
#include <cstdio>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "kiln/core/context.h"
#include "kiln/train/linear_eval.h"
#include "tools/kiln/commands.h"

namespace kiln::cli {
namespace {

constexpr char kHelp[] =
    "usage: kiln linear-eval CONFIG --checkpoint PATH|init --tasks [DOMAIN:]TASK,...\n"
    "                        [--bench DIR] [--set a.b=value ...] [--ema] [--input-key KEY]\n"
    "                        [--l2 X] [--lr X] [--steps N] [--out FILE]\n"
    "\n"
    "Linear evaluation of a frozen encoder (HARES, 2111.12124). CONFIG is the\n"
    "encoder's training config (model slowfast_nfnet); its weights come from\n"
    "PATH (a checkpoint directory, checkpoints/ folder or run directory; --ema\n"
    "for the EMA weights) or, with 'init', from a random initialisation (the\n"
    "random frozen encoder baseline). For each task, CONFIG's data section (no\n"
    "shuffling, no augmentation) with data.name = audio_manifest and data.path =\n"
    "DIR/TASK.csv (--bench DIR, e.g. runs/audio_bench: TASK speech_word, ...),\n"
    "or data.path = TASK if it ends in .csv, else data.name = TASK, gives the\n"
    "training and held-out examples. DOMAIN defaults to TASK's file name up to\n"
    "its first '_' (speech_word: speech). Their embeddings (batch key KEY,\n"
    "default image, with 'label') are extracted once, and an L2-regularised softmax\n"
    "regression is trained on the standardised training features with\n"
    "full-batch Adam (defaults: l2 1e-4, lr 0.05, 500 steps). Prints a table of\n"
    "test accuracy per task, the mean per DOMAIN and overall, then the same as\n"
    "JSON (also written to FILE with --out).\n";

std::optional<double> parse_double(const std::optional<std::string>& text, double fallback) {
  if (!text) return fallback;
  try {
    size_t used = 0;
    const double v = std::stod(*text, &used);
    if (used == text->size()) return v;
  } catch (const std::exception&) {
  }
  return std::nullopt;
}

}  // namespace

int linear_eval_command(const std::vector<std::string>& argv) {
  int exit_code = 0;
  const std::optional<Args> args = parse_command(
      argv, kHelp, {"checkpoint", "tasks", "bench", "input-key", "l2", "lr", "steps", "out"},
      {"ema"}, exit_code);
  if (!args) return exit_code;
  const std::optional<std::string> path = args->option("checkpoint");
  const std::optional<std::string> task_list = args->option("tasks");
  if (args->positional.size() != 1 || !path || !task_list) return usage(kHelp);
  train::LinearEvalOptions eval;
  const std::vector<std::string> items = absl::StrSplit(*task_list, ',', absl::SkipEmpty());
  for (const std::string& item : items) {
    absl::StatusOr<train::DownstreamTask> task =
        train::parse_downstream_task(item, args->option("bench").value_or(""));
    if (!task.ok()) return fail(absl::StrCat("--tasks: ", task.status().message()));
    eval.tasks.push_back(*task);
  }
  if (eval.tasks.empty()) return fail("--tasks lists no task");
  train::LinearProbeOptions probe;
  const std::optional<double> l2 = parse_double(args->option("l2"), probe.l2);
  const std::optional<double> lr = parse_double(args->option("lr"), probe.lr);
  const std::optional<int64_t> steps = parse_int(args->option("steps"), probe.steps);
  if (!l2 || !lr || !steps || *l2 < 0 || *lr <= 0 || *steps < 1) {
    return fail("--l2 must be >= 0, --lr > 0 and --steps a positive integer");
  }
  probe.l2 = *l2;
  probe.lr = *lr;
  probe.steps = *steps;
  eval.probe = probe;
  eval.input_key = args->option("input-key").value_or("image");
  eval.weights = *path;
  eval.ema = args->has_flag("ema");

  absl::StatusOr<train::ExperimentConfig> config =
      train::load_experiment(args->positional[0], args->sets);
  if (!config.ok()) return fail(std::string(config.status().message()));
  Context context({.num_threads = config->train.threads});
  ContextScope scope(context);
  absl::StatusOr<train::Json> report = train::run_linear_eval(*config, eval);
  if (!report.ok()) return fail(std::string(report.status().message()));

  std::printf("%-12s %-28s %8s %8s %10s %10s\n", "domain", "task", "train", "test", "train_acc",
              "test_acc");
  for (const train::Json& row : (*report)["tasks"]) {
    std::printf("%-12s %-28s %8lld %8lld %10.4f %10.4f\n", row["domain"].get<std::string>().c_str(),
                row["task"].get<std::string>().c_str(), row["train_examples"].get<long long>(),
                row["test_examples"].get<long long>(), row["train_accuracy"].get<double>(),
                row["test_accuracy"].get<double>());
  }
  for (const auto& [domain, mean] : (*report)["domains"].items()) {
    std::printf("%-12s %-28s %8s %8s %10s %10.4f\n", domain.c_str(), "(domain mean)", "", "", "",
                mean.get<double>());
  }
  std::printf("%-12s %-28s %8s %8s %10s %10.4f\n", "", "(mean over tasks)", "", "", "",
              (*report)["mean_test_accuracy"].get<double>());
  std::printf("%s\n", report->dump(2).c_str());
  if (const auto file = args->option("out")) {
    std::FILE* f = std::fopen(file->c_str(), "w");
    if (f == nullptr) return fail(absl::StrCat(*file, ": cannot write"));
    std::fprintf(f, "%s\n", report->dump(2).c_str());
    std::fclose(f);
  }
  return 0;
}

}  // namespace kiln::cli
