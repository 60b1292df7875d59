#include <cstdio>
#include <filesystem>

#include "kiln/core/context.h"
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
    "the metrics as JSON. PATH is a checkpoint directory (step_NNNNNNNNNN), a\n"
    "run's checkpoints/ directory or a run directory (its newest checkpoint),\n"
    "or \"init\" (the run's initialisation). The weights are those the run\n"
    "evaluated: the EMA's when CONFIG has train.ema_decay > 0 and\n"
    "train.eval_with_ema (the default), else the model's; --ema asks for the\n"
    "EMA's, --set train.eval_with_ema=false for the model's.\n"
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
  int exit_code = 0;
  const std::optional<Args> args =
      parse_command(argv, kHelp, {"checkpoint", "buckets", "max-batches", "out"},
                    {"ema", "by-position"}, exit_code);
  if (!args) return exit_code;
  const std::optional<std::string> path = args->option("checkpoint");
  if (args->positional.size() != 1 || !path) return usage(kHelp);
  absl::StatusOr<train::ExperimentConfig> config =
      train::load_experiment(args->positional[0], args->sets);
  if (!config.ok()) return fail(std::string(config.status().message()));
  Context context({.num_threads = config->train.threads});
  ContextScope scope(context);

  // The weights the run itself evaluated, unless --ema asks for the EMA's.
  const bool evaluate_ema =
      args->has_flag("ema") || (config->train.ema_decay > 0 && config->train.eval_with_ema);
  absl::StatusOr<train::RunData> data = train::build_data(*config);
  if (!data.ok()) return fail(std::string(data.status().message()));
  absl::StatusOr<train::TrainedModel> trained = train::load_trained_model(
      *config, {.input_shape = data->input_shape, .num_classes = data->num_classes}, *path,
      evaluate_ema ? "ema_model" : "model");
  if (!trained.ok()) return fail(std::string(trained.status().message()));
  const std::shared_ptr<models::Model>& model = trained->model;

  std::unique_ptr<train::Task> task = train::build_task(
      *config, model, train::build_optimizer(config->optimizer, model->named_parameters()));
  task->eval_begin();
  for (int64_t i = 0; i < data->eval_batches->size(); ++i)
    task->eval_batch(data->eval_batches->get(i));
  train::Json out = {{"step", trained->step}};
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
    absl::StatusOr<train::Json> by_position = nll_by_position(*model, *data, options);
    if (!by_position.ok()) return fail(std::string(by_position.status().message()));
    out["nll_by_position"] = (*by_position)["fit"];
    out["nll_by_position"]["out_dir"] = options.out_dir;
  }
  std::printf("%s\n", out.dump(2).c_str());
  return 0;
}

}  // namespace kiln::cli
