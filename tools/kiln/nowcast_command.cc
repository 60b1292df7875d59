// kiln nowcast (baseline nowcasts scored on held-out radar data) and kiln
// radar-export (a radar dataset written as an npy file).
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "kiln/data/radar.h"
#include "kiln/ops/shape.h"
#include "kiln/train/nowcast.h"
#include "src/train/builders.h"
#include "tools/kiln/commands.h"

namespace kiln::cli {
namespace {

constexpr char kNowcastHelp[] =
    "usage: kiln nowcast CONFIG [--set a.b=value ...] [--checkpoint [NAME=]RUN,...]\n"
    "                   [--batches N] [--samples S] [--png-members K] [--seed N]\n"
    "                   [--png FILE] [--json]\n"
    "\n"
    "Scores nowcasts on the held-out split of CONFIG's radar data\n"
    "(data.name radar_synthetic or radar_npy; data.radar.context_frames in,\n"
    "the rest of each sequence is the truth): persistence and the advection\n"
    "nowcast (motion estimated on the context frames, extrapolated\n"
    "semi-Lagrangian), and with --checkpoint the DGMR generator of CONFIG's\n"
    "model with each RUN's weights (a run directory, its checkpoints/ folder or\n"
    "one checkpoint; NAME defaults to dgmr, dgmr2, ...). Prints CSI at 1, 4 and\n"
    "8 mm/h, fair CRPS after average pooling at 1, 4 and 16 pixels and the\n"
    "ensemble spread (members' std per pixel) by lead time, and the radially\n"
    "averaged PSD ratio forecast / truth, then the scores as one JSON object\n"
    "(--json: the JSON only). --batches limits the held-out batches (default\n"
    "all), --samples is the ensemble size asked of sampling forecasters\n"
    "(default 1), --png draws the first held-out sequence (top row: context and\n"
    "truth; below, --png-members rows per sampling forecaster, default 1, and\n"
    "one per deterministic one).\n";

constexpr char kExportHelp[] =
    "usage: kiln radar-export CONFIG --out FILE.npy [--set a.b=value ...] [--count N]\n"
    "                         [--split train|eval]\n"
    "\n"
    "Writes the first N (default 64) sequences of CONFIG's radar data (its train\n"
    "split unless --split eval, unshuffled) to FILE.npy: float32 little-endian,\n"
    "C order, shape (N, T, H, W, 1), mm/h; data.name radar_npy reads it back.\n";

}  // namespace

int nowcast_command(const std::vector<std::string>& argv) {
  int exit_code = 0;
  const std::optional<Args> args = parse_command(
      argv, kNowcastHelp, {"batches", "samples", "seed", "png", "checkpoint", "png-members"},
      {"json"}, exit_code);
  if (!args) return exit_code;
  if (args->positional.size() != 1) return usage(kNowcastHelp);
  const std::optional<int64_t> batches = parse_int(args->option("batches"), 0);
  const std::optional<int64_t> samples = parse_int(args->option("samples"), 1);
  const std::optional<int64_t> seed = parse_int(args->option("seed"), 0);
  const std::optional<int64_t> png_members = parse_int(args->option("png-members"), 1);
  if (!png_members || *png_members < 1) return fail("--png-members needs an integer >= 1");
  if (!batches || *batches < 0) return fail("--batches needs an integer >= 0");
  if (!samples || *samples < 1) return fail("--samples needs an integer >= 1");
  if (!seed || *seed < 0) return fail("--seed needs an integer >= 0");
  absl::StatusOr<train::ExperimentConfig> config =
      train::load_experiment(args->positional[0], args->sets);
  if (!config.ok()) return fail(std::string(config.status().message()));
  train::NowcastEvalOptions options;
  options.max_batches = *batches;
  options.num_samples = *samples;
  options.seed = static_cast<uint64_t>(*seed);
  options.png_members = *png_members;
  std::vector<train::NamedForecaster> forecasters;
  const std::vector<std::string> runs =
      absl::StrSplit(args->option("checkpoint").value_or(""), ',', absl::SkipEmpty());
  for (const std::string& run : runs) {
    const size_t eq = run.find('=');
    std::string name = eq == std::string::npos ? "dgmr" : run.substr(0, eq);
    if (eq == std::string::npos && !forecasters.empty()) {
      name = absl::StrCat("dgmr", forecasters.size() + 1);
    }
    const std::string path = eq == std::string::npos ? run : run.substr(eq + 1);
    absl::StatusOr<train::Forecaster> dgmr = train::dgmr_forecaster(*config, path);
    if (!dgmr.ok()) return fail(std::string(dgmr.status().message()));
    forecasters.push_back({name, *dgmr});
  }
  for (train::NamedForecaster& f : train::baseline_forecasters()) forecasters.push_back(f);
  absl::StatusOr<std::vector<train::NowcastScores>> scores =
      train::run_nowcast(*config, forecasters, options, args->option("png").value_or(""));
  if (!scores.ok()) return fail(std::string(scores.status().message()));
  train::Json json = train::Json::object();
  json["config"] = args->positional[0];
  json["forecasters"] = train::Json::array();
  for (const train::NowcastScores& s : *scores) {
    json["forecasters"].push_back(train::nowcast_scores_json(s));
  }
  if (!args->has_flag("json")) {
    std::printf("%s held-out examples, %s\n\n%s\n",
                std::to_string(scores->front().examples).c_str(), args->positional[0].c_str(),
                train::nowcast_table(*scores).c_str());
  }
  std::printf("%s\n", json.dump().c_str());
  if (std::optional<std::string> png = args->option("png")) {
    if (!args->has_flag("json")) std::printf("wrote %s\n", png->c_str());
  }
  return 0;
}

int radar_export_command(const std::vector<std::string>& argv) {
  int exit_code = 0;
  const std::optional<Args> args =
      parse_command(argv, kExportHelp, {"out", "count", "split"}, {}, exit_code);
  if (!args) return exit_code;
  if (args->positional.size() != 1 || !args->option("out")) return usage(kExportHelp);
  const std::optional<int64_t> count = parse_int(args->option("count"), 64);
  if (!count || *count < 1) return fail("--count needs an integer >= 1");
  const std::string split = args->option("split").value_or("train");
  if (split != "train" && split != "eval") return fail("--split is train or eval, got " + split);
  absl::StatusOr<train::ExperimentConfig> config =
      train::load_experiment(args->positional[0], args->sets);
  if (!config.ok()) return fail(std::string(config.status().message()));
  absl::StatusOr<data::DatasetPtr> examples = train::build_split(*config, split == "train");
  if (!examples.ok()) return fail(std::string(examples.status().message()));
  const int64_t n = std::min(*count, (*examples)->size());
  std::vector<Tensor> frames;
  try {
    for (int64_t i = 0; i < n; ++i) frames.push_back((*examples)->get(i).at(data::kFramesKey));
  } catch (const Error& e) {
    return fail(absl::StrCat(args->positional[0], ": not a radar dataset: ", e.what()));
  }
  const std::string out = *args->option("out");
  const absl::Status written = data::write_radar_npy(out, stack(frames, 0));  // (N, T, H, W, 1)
  if (!written.ok()) return fail(std::string(written.message()));
  std::printf("wrote %lld sequences %s to %s\n", static_cast<long long>(n),
              shape_str(frames.front().shape()).c_str(), out.c_str());
  return 0;
}

}  // namespace kiln::cli
