// kiln fewshot: Flamingo's few-shot classification accuracy by number of
// shots (train/few_shot.h), on Fashion-MNIST with captions.
#include <cstdio>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "kiln/core/context.h"
#include "kiln/data/idx.h"
#include "kiln/train/few_shot.h"
#include "tools/kiln/commands.h"
#include "tools/kiln/lm_tools.h"

namespace kiln::cli {
namespace {

namespace fs = std::filesystem;

constexpr char kHelp[] =
    "usage: kiln fewshot CONFIG --checkpoint PATH [--shots 0,1,2,4,8] [--queries N]\n"
    "                    [--seed S] [--out DIR] [--set a.b=value ...]\n"
    "\n"
    "Few-shot classification with a trained Flamingo (CONFIG's model and data\n"
    "fashion_mnist_captions): for each query image of the test split, k\n"
    "(image, class name) examples drawn from the training split, then the query\n"
    "image; every class name is scored as the continuation by log-likelihood.\n"
    "Prints accuracy by k (chance is 1 / classes) and writes fewshot.csv,\n"
    "fewshot.md and fewshot.json to DIR (default: the config's\n"
    "output_dir/fewshot). --queries defaults to 200. --checkpoint init scores the\n"
    "model as built (pretrained vision and LM, new layers at initialisation: the\n"
    "frozen LM alone, which cannot see the images).\n";

}  // namespace

int fewshot_command(const std::vector<std::string>& argv) {
  int exit_code = 0;
  const std::optional<Args> args =
      parse_command(argv, kHelp, {"checkpoint", "shots", "queries", "seed", "out"}, {}, exit_code);
  if (!args) return exit_code;
  const std::optional<std::string> path = args->option("checkpoint");
  if (args->positional.size() != 1 || !path) return usage(kHelp);
  // A trained checkpoint holds every weight: the starting points of the
  // vision encoder and the LM are not needed (nor need they still exist).
  std::vector<std::string> sets = args->sets;
  if (*path != "init") {
    sets.insert(sets.begin(), {"model.vision_checkpoint=\"\"", "model.lm_checkpoint=\"\""});
  }
  absl::StatusOr<train::ExperimentConfig> config =
      train::load_experiment(args->positional[0], sets);
  if (!config.ok()) return fail(std::string(config.status().message()));
  if (config->data.name != "fashion_mnist_captions") {
    return fail("fewshot needs data fashion_mnist_captions (a Flamingo config)");
  }
  train::FewShotOptions options;
  options.format = train::fashion_mnist_captions_format(config->data);
  if (auto shots = parse_numbers(args->option("shots").value_or("0,1,2,4,8"))) {
    options.shots.clear();
    for (double k : *shots) {
      if (k < 0 || k != static_cast<int64_t>(k)) return fail("--shots takes integers >= 0");
      options.shots.push_back(static_cast<int64_t>(k));
    }
  } else {
    return fail("--shots takes comma-separated integers");
  }
  const std::optional<int64_t> queries = parse_int(args->option("queries"), 200);
  const std::optional<int64_t> seed = parse_int(args->option("seed"), 0);
  if (!queries || *queries < 1 || !seed) return fail("--queries >= 1 and --seed take integers");
  options.queries = *queries;
  options.seed = static_cast<uint64_t>(*seed);
  const fs::path out_dir =
      args->option("out").value_or((fs::path(config->output_dir) / "fewshot").string());

  Context context({.num_threads = config->train.threads});
  ContextScope scope(context);
  absl::StatusOr<train::RunData> data = train::build_data(*config);
  if (!data.ok()) return fail(std::string(data.status().message()));
  absl::StatusOr<std::shared_ptr<models::Model>> model = build_initial_model(*config, *data);
  if (!model.ok()) return fail(std::string(model.status().message()));
  auto* flamingo = dynamic_cast<models::Flamingo*>(model->get());
  if (flamingo == nullptr) return fail("fewshot needs model flamingo");
  // "init": the model as built, new layers at initialisation, which makes it
  // exactly the frozen LM (the baseline that cannot see the images).
  absl::StatusOr<int64_t> step =
      *path == "init" ? absl::StatusOr<int64_t>(0) : load_checkpoint_weights(**model, *path, false);
  if (!step.ok()) return fail(std::string(step.status().message()));

  const std::string dir = train::fashion_mnist_dir(config->data);
  absl::StatusOr<data::LabeledImages> support = data::load_mnist(dir, true);
  if (!support.ok()) return fail(std::string(support.status().message()));
  absl::StatusOr<data::LabeledImages> test = data::load_mnist(dir, false);
  if (!test.ok()) return fail(std::string(test.status().message()));
  const std::vector<std::string>& names = data::fashion_mnist_class_names();

  std::vector<train::FewShotResult> results;
  try {
    results = train::few_shot_classification(*flamingo, *support, *test, names, options);
  } catch (const Error& e) {
    return fail(e.what());
  }
  std::string csv = "shots,queries,correct,accuracy\n";
  std::string md = absl::StrCat("Few-shot accuracy of ", *path, " (step ", *step,
                                "), Fashion-MNIST test queries; chance ",
                                absl::StrFormat("%.3f", 1.0 / names.size()),
                                "\n\n| shots | queries | accuracy |\n|---|---|---|\n");
  train::Json json = train::Json::array();
  std::printf("checkpoint step %ld; chance %.3f\n", static_cast<long>(*step), 1.0 / names.size());
  for (const train::FewShotResult& r : results) {
    std::printf("  %2ld shots: accuracy %.3f (%ld / %ld)\n", static_cast<long>(r.shots),
                r.accuracy(), static_cast<long>(r.correct), static_cast<long>(r.queries));
    absl::StrAppend(&csv, r.shots, ",", r.queries, ",", r.correct, ",",
                    absl::StrFormat("%.4f", r.accuracy()), "\n");
    absl::StrAppend(&md, "| ", r.shots, " | ", r.queries, " | ",
                    absl::StrFormat("%.3f", r.accuracy()), " |\n");
    json.push_back({{"shots", r.shots},
                    {"queries", r.queries},
                    {"correct", r.correct},
                    {"accuracy", r.accuracy()}});
  }
  for (const auto& [file, text] : {std::pair<std::string, std::string>{"fewshot.csv", csv},
                                   {"fewshot.md", md},
                                   {"fewshot.json", json.dump(2) + "\n"}}) {
    if (absl::Status s = write_text_file((out_dir / file).string(), text); !s.ok()) {
      return fail(std::string(s.message()));
    }
  }
  std::printf("wrote %s/fewshot.{csv,md,json}\n", out_dir.string().c_str());
  return 0;
}

}  // namespace kiln::cli
