#include <cstdio>

#include "absl/strings/str_format.h"
#include "kiln/autograd/grad_mode.h"
#include "kiln/ops/flops.h"
#include "kiln/train/model_registry.h"
#include "src/train/builders.h"
#include "tools/kiln/commands.h"

namespace kiln::cli {

namespace {
constexpr char kHelp[] =
    "usage: kiln info CONFIG [--set a.b=value ...] [--json] [--count-only]\n"
    "\n"
    "Builds the model of CONFIG and prints its parameter count, overall and\n"
    "per top-level module, and its forward FLOPs per example (matrix\n"
    "multiplications and convolutions, 2 per multiply-add). --json prints one\n"
    "JSON object with at least \"params\" and \"forward_flops_per_example\".\n"
    "Models of more than a billion parameters whose family can count them\n"
    "without building (flamingo) are counted, by part, and not built (no\n"
    "FLOPs); --count-only does so for any size.\n";

// Above this many parameters a countable model is not built.
constexpr int64_t kBuildLimit = 1'000'000'000;

int print_counts(const std::string& model, const train::ParameterCounts& counts, bool json) {
  int64_t total = 0;
  train::Json modules = train::Json::object();
  for (const auto& [name, count] : counts) {
    modules[name] = count;
    total += count;
  }
  if (json) {
    train::Json out = {{"model", model}, {"params", total}, {"modules", modules}, {"built", false}};
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  std::printf("model %s (counted without building it)\n", model.c_str());
  for (const auto& [name, count] : counts) {
    std::printf("  %-32s %14s (%.3fB)\n", name.c_str(), absl::StrFormat("%d", count).c_str(),
                static_cast<double>(count) / 1e9);
  }
  std::printf("parameters: %s (%.2fB)\n", absl::StrFormat("%d", total).c_str(),
              static_cast<double>(total) / 1e9);
  return 0;
}

}  // namespace

int info_command(const std::vector<std::string>& argv) {
  int exit_code = 0;
  const std::optional<Args> args =
      parse_command(argv, kHelp, {}, {"json", "count-only"}, exit_code);
  if (!args) return exit_code;
  if (args->positional.size() != 1) return usage(kHelp);
  absl::StatusOr<train::ExperimentConfig> config =
      train::load_experiment(args->positional[0], args->sets);
  if (!config.ok()) return fail(std::string(config.status().message()));
  const train::DataSignature signature = train::data_signature(config->data);
  absl::StatusOr<std::optional<train::ParameterCounts>> counts = train::count_model_parameters(
      config->model.name, config->model.options,
      {.input_shape = signature.input_shape, .num_classes = signature.num_classes}, config->file);
  if (!counts.ok()) return fail(std::string(counts.status().message()));
  if (counts->has_value()) {
    int64_t total = 0;
    for (const auto& [name, count] : **counts) total += count;
    if (total > kBuildLimit || args->has_flag("count-only")) {
      return print_counts(config->model.name, **counts, args->has_flag("json"));
    }
  } else if (args->has_flag("count-only")) {
    return fail(absl::StrCat("model ", config->model.name,
                             " cannot be counted without building it: drop --count-only"));
  }

  Generator gen(config->train.seed);
  absl::StatusOr<std::shared_ptr<models::Model>> model =
      train::build_model(config->model.name, config->model.options,
                         {.input_shape = signature.input_shape,
                          .num_classes = signature.num_classes,
                          .init_gen = &gen,
                          .dropout_gen = std::make_shared<Generator>(0)},
                         config->file);
  if (!model.ok()) return fail(std::string(model.status().message()));

  // One forward pass on a single example counts the FLOPs.
  Shape input_shape{1};
  for (int64_t s : signature.input_shape) input_shape.push_back(s);
  int64_t flops = 0;
  try {
    NoGradGuard no_grad;
    (*model)->eval();
    FlopCounter counter;
    (*model)->forward(zeros(input_shape, signature.tokens ? DType::kI64 : DType::kF32));
    flops = counter.flops();
  } catch (const Error& e) {
    return fail(absl::StrCat("forward pass failed: ", e.what()));
  }

  const int64_t params = (*model)->num_parameters();
  train::Json modules = train::Json::object();
  for (const auto& [name, child] : (*model)->children()) modules[name] = child->num_parameters();
  if (args->has_flag("json")) {
    train::Json out = {{"model", config->model.name},
                       {"params", params},
                       {"forward_flops_per_example", flops},
                       {"modules", modules}};
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  std::printf("model %s\n", config->model.name.c_str());
  for (const auto& [name, count] : modules.items()) {
    std::printf("  %-32s %14s\n", name.c_str(),
                absl::StrFormat("%d", count.get<int64_t>()).c_str());
  }
  std::printf("parameters: %s (%.1fM)\n", absl::StrFormat("%d", params).c_str(),
              static_cast<double>(params) / 1e6);
  std::printf("forward FLOPs per example: %s (%.3f GFLOPs)\n", absl::StrFormat("%d", flops).c_str(),
              static_cast<double>(flops) / 1e9);
  return 0;
}

}  // namespace kiln::cli
