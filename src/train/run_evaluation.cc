#include "kiln/train/run_evaluation.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "kiln/core/context.h"
#include "kiln/io/file.h"

namespace kiln::train {
namespace {

namespace fs = std::filesystem;

absl::StatusOr<Json> evaluate_linear(const LinearEvalOptions& options,
                                     const ExperimentConfig& config, const fs::path& dir,
                                     const std::string& weights) {
  LinearEvalOptions o = options;
  o.weights = weights;
  absl::StatusOr<Json> report = run_linear_eval(config, o);
  if (!report.ok()) return report.status();
  if (absl::Status s =
          io::write_file_atomic((dir / "linear_eval.json").string(), report->dump(2) + "\n");
      !s.ok()) {
    return s;
  }
  Json summary = Json::object();
  for (const auto& [domain, mean] : (*report)["domains"].items()) {
    summary["linear_" + domain] = mean;
  }
  summary["linear_mean"] = (*report)["mean_test_accuracy"];
  for (const Json& row : (*report)["tasks"]) {
    summary["linear_" + fs::path(row["task"].get<std::string>()).stem().string()] =
        row["test_accuracy"];
  }
  return summary;
}

absl::StatusOr<Json> evaluate_nowcast_run(const NowcastEvalOptions& options,
                                          const ExperimentConfig& config, const fs::path& dir,
                                          const std::string& weights) {
  absl::StatusOr<Forecaster> dgmr = dgmr_forecaster(config, weights);
  if (!dgmr.ok()) return dgmr.status();
  std::vector<NamedForecaster> forecasters = {{"dgmr", *dgmr}};
  for (NamedForecaster& f : baseline_forecasters()) forecasters.push_back(std::move(f));
  absl::StatusOr<std::vector<NowcastScores>> scores =
      run_nowcast(config, forecasters, options, (dir / "nowcast.png").string());
  if (!scores.ok()) return scores.status();

  Json report = Json::array();
  Json summary = Json::object();
  for (const NowcastScores& s : *scores) {
    report.push_back(nowcast_scores_json(s));
    summary.update(nowcast_summary(s));
  }
  if (absl::Status st =
          io::write_file_atomic((dir / "nowcast.json").string(), report.dump(2) + "\n");
      !st.ok()) {
    return st;
  }
  const std::string table =
      absl::StrCat(scores->front().examples, " held-out examples\n\n", nowcast_table(*scores));
  if (absl::Status st = io::write_file_atomic((dir / "nowcast.txt").string(), table); !st.ok()) {
    return st;
  }
  return summary;
}

}  // namespace

RunEvaluation read_run_evaluation(ObjectReader& r) {
  RunEvaluation e;
  r.require("name", &e.name);
  r.check_one_of("name", e.name, {"linear_eval", "nowcast"});
  if (e.name == "linear_eval") {
    LinearEvalOptions& o = e.linear_eval;
    std::string bench;
    std::vector<std::string> tasks;
    r.read("bench", &bench);
    r.require("tasks", &tasks);
    if (tasks.empty()) r.fail("tasks", "must list at least one task");
    for (const std::string& item : tasks) {
      absl::StatusOr<DownstreamTask> task = parse_downstream_task(item, bench);
      if (!task.ok()) r.fail("tasks", std::string(task.status().message()));
      o.tasks.push_back(*task);
    }
    r.read("input_key", &o.input_key);
    r.read("l2", &o.probe.l2);
    r.check_range("l2", o.probe.l2, 0, INFINITY);
    r.read("lr", &o.probe.lr);
    r.check_range("lr", o.probe.lr, 0, INFINITY, false);
    r.read("steps", &o.probe.steps);
    r.check_range("steps", static_cast<double>(o.probe.steps), 1, INFINITY);
    r.read("ema", &o.ema);
  } else {
    NowcastEvalOptions& o = e.nowcast;
    r.read("samples", &o.num_samples);
    r.check_range("samples", static_cast<double>(o.num_samples), 1, INFINITY);
    r.read("batches", &o.max_batches);
    r.check_range("batches", static_cast<double>(o.max_batches), 0, INFINITY);
    int64_t seed = 0;
    r.read("seed", &seed);
    r.check_range("seed", static_cast<double>(seed), 0, INFINITY);
    o.seed = static_cast<uint64_t>(seed);
    r.read("png_members", &o.png_members);
    r.check_range("png_members", static_cast<double>(o.png_members), 1, 16);
  }
  r.finish();
  return e;
}

absl::StatusOr<Json> evaluate_run(const RunEvaluation& evaluation, const ExperimentConfig& config,
                                  const std::string& run_dir, bool trained) {
  std::error_code ec;
  fs::create_directories(run_dir, ec);
  if (ec) return absl::InternalError(absl::StrCat(run_dir, ": cannot create: ", ec.message()));
  const std::string weights = trained ? run_dir : "init";
  Context context({.num_threads = config.train.threads});  // as the run trained
  ContextScope scope(context);
  absl::StatusOr<Json> summary =
      evaluation.name == "linear_eval"
          ? evaluate_linear(evaluation.linear_eval, config, run_dir, weights)
          : evaluate_nowcast_run(evaluation.nowcast, config, run_dir, weights);
  if (!summary.ok()) {
    return absl::Status(summary.status().code(), absl::StrCat(evaluation.name, " of ", run_dir,
                                                              ": ", summary.status().message()));
  }
  return summary;
}

}  // namespace kiln::train
