#include <cstdio>
#include <filesystem>

#include "absl/strings/str_format.h"
#include "kiln/core/context.h"
#include "kiln/train/checkpoint.h"
#include "kiln/train/model_registry.h"
#include "src/train/builders.h"
#include "tools/kiln/commands.h"
#include "tools/kiln/lm_tools.h"

namespace kiln::cli {

namespace {
constexpr char kHelp[] =
    "usage: kiln eval CONFIG --checkpoint PATH [--set a.b=value ...] [--ema]\n"
    "                 [--by-position [--buckets N] [--max-batches N] [--out DIR]]\n"
    "\n"
    "Evaluates a checkpoint on the held-out split of CONFIG's data and prints\n"
    "the metrics as JSON. PATH is a checkpoint directory (step_NNNNNNNNNN) or\n"
    "a run's checkpoints/ directory (its newest checkpoint). --ema evaluates\n"
    "the EMA weights.\n"
    "\n"
    "Language models: --by-position also reports the negative log-likelihood by\n"
    "token position (the Gemini 1.5 report's long-context measure): the mean NLL\n"
    "per position in N log-spaced buckets (default 24), the cumulative average\n"
    "NLL L(x) of positions 1..x and its fit L(x) = a * x^b + c; written to DIR\n"
    "(default: CONFIG's output_dir/long_context) as nll_by_position.{csv,md,svg}\n"
    "and nll_fit.json. Evaluate at a longer context than training with\n"
    "--set data.sequence_length=N (rotary positions; max_len must allow it).\n"
    "--max-batches limits the held-out batches (default: all).\n";
}  // namespace

int eval_command(const std::vector<std::string>& argv) {
  absl::StatusOr<Args> args =
      parse_args(argv, {"checkpoint", "buckets", "max-batches", "out"}, {"ema", "by-position"});
  if (!args.ok()) return fail(std::string(args.status().message()));
  if (args->help) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  const std::optional<std::string> path = args->option("checkpoint");
  if (args->positional.size() != 1 || !path) {
    std::fputs(kHelp, stderr);
    return 2;
  }
  absl::StatusOr<train::ExperimentConfig> config =
      train::load_experiment(args->positional[0], args->sets);
  if (!config.ok()) return fail(std::string(config.status().message()));
  Context context({.num_threads = config->train.threads});
  ContextScope scope(context);

  absl::StatusOr<train::Checkpoint> checkpoint =
      std::filesystem::exists(std::filesystem::path(*path) / "manifest.json")
          ? train::CheckpointManager::load(*path)
          : train::CheckpointManager(*path, 1).load_latest();
  if (!checkpoint.ok()) return fail(std::string(checkpoint.status().message()));

  absl::StatusOr<train::RunData> data = train::build_data(*config);
  if (!data.ok()) return fail(std::string(data.status().message()));
  Generator gen(0);
  absl::StatusOr<std::shared_ptr<models::Model>> model =
      train::build_model(config->model.name, config->model.options,
                         {.input_shape = data->input_shape,
                          .num_classes = data->num_classes,
                          .init_gen = &gen,
                          .dropout_gen = std::make_shared<Generator>(0)},
                         config->file);
  if (!model.ok()) return fail(std::string(model.status().message()));
  const std::string group = args->has_flag("ema") ? "ema_model" : "model";
  auto it = checkpoint->groups.find(group);
  if (it == checkpoint->groups.end()) {
    return fail(absl::StrCat(*path, ": the checkpoint has no ", group, " weights"));
  }
  absl::Status loaded = (*model)->load_state_dict(
      std::map<std::string, Tensor>(it->second.begin(), it->second.end()));
  if (!loaded.ok()) return fail(absl::StrCat(*path, ": ", loaded.message()));

  std::unique_ptr<train::Task> task = train::build_task(
      *config, *model, train::build_optimizer(config->optimizer, (*model)->named_parameters()));
  (*model)->eval();
  task->eval_begin();
  for (int64_t i = 0; i < data->eval_batches->size(); ++i)
    task->eval_batch(data->eval_batches->get(i));
  train::Json out = {{"step", checkpoint->step}};
  for (const auto& [name, value] : task->eval_end()) out[name] = value;
  if (args->has_flag("by-position")) {
    if (config->task.name != "language_modeling") {
      return fail("--by-position needs task language_modeling");
    }
    ByPositionOptions options;
    try {
      if (auto v = args->option("buckets")) options.buckets = std::stoll(*v);
      if (auto v = args->option("max-batches")) options.max_batches = std::stoll(*v);
    } catch (const std::exception&) {
      return fail("--buckets and --max-batches take integers");
    }
    if (options.buckets < 1 || options.max_batches < 0) {
      return fail("--buckets must be >= 1 and --max-batches >= 0");
    }
    options.out_dir = args->option("out").value_or(
        (std::filesystem::path(config->output_dir) / "long_context").string());
    absl::StatusOr<train::Json> by_position = nll_by_position(**model, *data, options);
    if (!by_position.ok()) return fail(std::string(by_position.status().message()));
    out["nll_by_position"] = (*by_position)["fit"];
    out["nll_by_position"]["out_dir"] = options.out_dir;
  }
  std::printf("%s\n", out.dump(2).c_str());
  return 0;
}

}  // namespace kiln::cli
