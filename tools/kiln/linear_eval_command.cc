// kiln linear-eval: HARES-style linear evaluation of a frozen encoder.
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "kiln/core/context.h"
#include "kiln/models/slowfast_nfnet/slowfast_nfnet.h"
#include "kiln/train/checkpoint.h"
#include "kiln/train/linear_eval.h"
#include "kiln/train/model_registry.h"
#include "src/train/builders.h"
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

struct TaskSpec {
  std::string domain;
  std::string name;  // as given
  std::string data;  // data.name
  std::string path;  // data.path, or empty to keep CONFIG's
};

// "[DOMAIN:]TASK" -> the dataset it names (see kHelp).
std::optional<TaskSpec> parse_task(const std::string& item,
                                   const std::optional<std::string>& bench) {
  const std::vector<std::string> parts = absl::StrSplit(item, ':');
  if (parts.size() > 2 || parts.back().empty()) return std::nullopt;
  TaskSpec t;
  t.name = parts.back();
  if (bench) {
    t.data = "audio_manifest";
    t.path = (std::filesystem::path(*bench) / (t.name + ".csv")).string();
  } else if (t.name.ends_with(".csv")) {
    t.data = "audio_manifest";
    t.path = t.name;
  } else {
    t.data = t.name;
  }
  if (parts.size() == 2) {
    t.domain = parts[0];
  } else {
    const std::string stem = std::filesystem::path(t.name).stem().string();
    t.domain = stem.find('_') == std::string::npos ? "all" : stem.substr(0, stem.find('_'));
  }
  return t;
}

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
  absl::StatusOr<Args> args = parse_args(
      argv, {"checkpoint", "tasks", "bench", "input-key", "l2", "lr", "steps", "out"}, {"ema"});
  if (!args.ok()) return fail(std::string(args.status().message()));
  if (args->help) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  const std::optional<std::string> path = args->option("checkpoint");
  const std::optional<std::string> task_list = args->option("tasks");
  if (args->positional.size() != 1 || !path || !task_list) {
    std::fputs(kHelp, stderr);
    return 2;
  }
  std::vector<TaskSpec> tasks;
  const std::vector<std::string> items = absl::StrSplit(*task_list, ',', absl::SkipEmpty());
  for (const std::string& item : items) {
    const std::optional<TaskSpec> task = parse_task(item, args->option("bench"));
    if (!task) return fail("--tasks: bad entry '" + item + "'");
    tasks.push_back(*task);
  }
  if (tasks.empty()) return fail("--tasks lists no task");
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
  const std::string input_key = args->option("input-key").value_or("image");

  absl::StatusOr<train::ExperimentConfig> config =
      train::load_experiment(args->positional[0], args->sets);
  if (!config.ok()) return fail(std::string(config.status().message()));
  Context context({.num_threads = config->train.threads});
  ContextScope scope(context);

  // The encoder as trained: the same initialisation stream as the trainer.
  const train::DataSignature signature = train::data_signature(config->data);
  Generator gen(config->train.seed * 2 + 1);
  absl::StatusOr<std::shared_ptr<models::Model>> model =
      train::build_model(config->model.name, config->model.options,
                         {.input_shape = signature.input_shape,
                          .num_classes = signature.num_classes,
                          .init_gen = &gen,
                          .dropout_gen = std::make_shared<Generator>(0)},
                         config->file);
  if (!model.ok()) return fail(std::string(model.status().message()));
  auto* encoder = dynamic_cast<models::SlowFastNFNet*>(model->get());
  if (encoder == nullptr) {
    return fail(
        absl::StrCat("linear-eval needs an encoder with an embedding (slowfast_nfnet), got ",
                     config->model.name));
  }
  int64_t step = 0;
  if (*path != "init") {
    absl::StatusOr<int64_t> loaded =
        train::load_module_weights(**model, *path, args->has_flag("ema") ? "ema_model" : "model");
    if (!loaded.ok()) return fail(std::string(loaded.status().message()));
    step = *loaded;
  }
  (*model)->eval();
  const auto embed = [encoder](const Tensor& x) { return encoder->embed(x); };

  train::Json rows = train::Json::array();
  std::map<std::string, std::pair<double, int>> domains;  // sum of accuracies, tasks
  double total = 0;
  std::printf("%-12s %-28s %8s %8s %10s %10s\n", "domain", "task", "train", "test", "train_acc",
              "test_acc");
  for (const TaskSpec& task : tasks) {
    train::ExperimentConfig task_config = *config;
    task_config.data.name = task.data;
    if (!task.path.empty()) task_config.data.path = task.path;
    task_config.data.shuffle = false;
    task_config.data.augment = {};
    absl::StatusOr<train::RunData> data = train::build_data(task_config);
    if (!data.ok()) return fail(absl::StrCat(task.name, ": ", data.status().message()));
    train::LinearProbeResult result;
    train::Features train_features, test_features;
    try {
      train_features = train::extract_features(embed, *data->train_batches, input_key);
      test_features = train::extract_features(embed, *data->eval_batches, input_key);
      result = train::linear_probe(train_features, test_features, data->num_classes, probe);
    } catch (const Error& e) {
      return fail(absl::StrCat(task.name, ": ", e.what()));
    }
    std::printf("%-12s %-28s %8lld %8lld %10.4f %10.4f\n", task.domain.c_str(), task.name.c_str(),
                static_cast<long long>(train_features.y.size(0)),
                static_cast<long long>(test_features.y.size(0)), result.train_accuracy,
                result.test_accuracy);
    rows.push_back({{"domain", task.domain},
                    {"task", task.name},
                    {"data", task.data},
                    {"path", task.path},
                    {"train_examples", train_features.y.size(0)},
                    {"test_examples", test_features.y.size(0)},
                    {"classes", data->num_classes},
                    {"train_accuracy", result.train_accuracy},
                    {"test_accuracy", result.test_accuracy}});
    domains[task.domain].first += result.test_accuracy;
    domains[task.domain].second += 1;
    total += result.test_accuracy;
  }
  train::Json per_domain = train::Json::object();
  for (const auto& [domain, sum_count] : domains) {
    const double mean = sum_count.first / sum_count.second;
    per_domain[domain] = mean;
    std::printf("%-12s %-28s %8s %8s %10s %10.4f\n", domain.c_str(), "(domain mean)", "", "", "",
                mean);
  }
  const double mean = total / static_cast<double>(tasks.size());
  std::printf("%-12s %-28s %8s %8s %10s %10.4f\n", "", "(mean over tasks)", "", "", "", mean);
  const train::Json out = {{"checkpoint", *path},
                           {"step", step},
                           {"model", config->model.name},
                           {"probe", {{"l2", probe.l2}, {"lr", probe.lr}, {"steps", probe.steps}}},
                           {"tasks", rows},
                           {"domains", per_domain},
                           {"mean_test_accuracy", mean}};
  std::printf("%s\n", out.dump(2).c_str());
  if (const auto file = args->option("out")) {
    std::FILE* f = std::fopen(file->c_str(), "w");
    if (f == nullptr) return fail(absl::StrCat(*file, ": cannot write"));
    std::fprintf(f, "%s\n", out.dump(2).c_str());
    std::fclose(f);
  }
  return 0;
}

}  // namespace kiln::cli
