// kiln sweep: one base config run under a grid (or list) of overrides, one
// point after another, resumable (a finished point is not run again, an
// interrupted one is resumed), with the results gathered into results.csv,
// results.md and a plot (results.svg) in the sweep's directory.
//
// An ablation file:
//   {
//     "base": "../experiments/x.json",        // relative to this file
//     "set": {"train.steps": 500},            // overrides for every point
//     "grid": {"a.b": [1, 2], "c": ["x", "y"]},  // cartesian product, or
//     "points": [{"name": "p1", "set": {...}}],  // an explicit list
//     "columns": ["eval_accuracy", "final_train_loss"],  // summary keys shown
//     "plot": {"x": "a.b", "y": "eval_accuracy", "series": "c",
//              "log_x": false, "log_y": false},
//     "fit": {"x": "train_flops", "y": "eval_loss",      // optional
//             "form": "power_law", "frontier": true},
//     "evaluate": {"name": "linear_eval", ...},          // optional
//     "output_dir": "runs/ablations/x"
//   }
// With "evaluate" (train/run_evaluation.h), every point's final weights are
// evaluated once its training is done, and the evaluation's scalars join
// the point's summary (and may be columns); the result is kept in the
// point's evaluation.json and reused while the point's config and the
// section are unchanged. A point with "train": false is not trained: its
// evaluation sees its config's initialisation (the random frozen encoder).
// With "fit", y = a * x^b is fitted by least squares in log-log (2310.16764's
// compute-optimal frontier): over the points' lower envelope when
// "frontier" is true (the default), else over all points. The fit goes to
// fit.json, a section of results.md and a line in results.svg when the
// plot's axes are the fit's.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "kiln/train/json_config.h"
#include "kiln/train/run_evaluation.h"

namespace kiln::train {

struct SweepPoint {
  std::string name;           // directory name under the sweep's output_dir
  Json set = Json::object();  // "a.b" -> value
  bool train = true;          // false: evaluated at initialisation (needs "evaluate")
};

struct PlotSpec {
  std::string x;       // an override key or a summary key
  std::string y;       // a summary key
  std::string series;  // an override key (one line per value), or empty
  bool log_x = false;
  bool log_y = false;
};

struct FitSpec {
  std::string x;                   // an override key or a summary key
  std::string y;                   // a summary key
  std::string form = "power_law";  // the only form so far: y = a * x^b
  bool frontier = true;            // fit the lower envelope only
};

struct SweepSpec {
  std::string file;
  std::string base;  // resolved path of the base config
  Json set = Json::object();
  std::vector<SweepPoint> points;
  std::vector<std::string> columns;
  PlotSpec plot;
  std::optional<FitSpec> fit;
  std::optional<RunEvaluation> evaluate;
  Json evaluate_section;  // as written: a saved evaluation is reused only for the same
  std::string output_dir;
};

absl::StatusOr<SweepSpec> load_sweep(const std::string& path,
                                     const std::vector<std::string>& overrides);

struct SweepOptions {
  std::FILE* console = stdout;
  bool interactive = false;
  // Run only the points whose name contains this (empty: all).
  std::string only;
};

// Runs every point not finished yet, then writes the results. Returns the
// rows (point name, overrides and summary) as JSON.
absl::StatusOr<Json> run_sweep(const SweepSpec& spec, const SweepOptions& options);

// Writes results.csv, results.md and results.svg for `rows` into `dir`.
absl::Status write_sweep_results(const SweepSpec& spec, const Json& rows, const std::string& dir);

using XYPoints = std::vector<std::pair<double, double>>;

// The Pareto frontier of (x, y) points: sorted by x (ties: smallest y), the
// points whose y is below that of every point with a smaller x, i.e. the
// lowest y reached at each budget x. Non-finite points are dropped.
XYPoints lower_envelope(XYPoints points);

struct PowerLawFit {
  double a = 0;     // y = a * x^b
  double b = 0;     // the exponent (negative when y falls with x)
  double r2 = 0;    // of the linear fit of log y on log x
  XYPoints points;  // the points fitted (the envelope with frontier)
};

// Least squares of log y = log a + b log x over the points with x, y > 0
// (over their lower envelope when `frontier`). An error with fewer than two
// usable points or a single distinct x.
absl::StatusOr<PowerLawFit> fit_power_law(const XYPoints& points, bool frontier);

// spec.fit applied to a sweep's rows (point name, overrides and summary as
// run_sweep returns them); an error when the sweep has no fit section.
absl::StatusOr<PowerLawFit> fit_sweep(const SweepSpec& spec, const Json& rows);

// A simple SVG line chart: one polyline per series.
std::string svg_line_chart(
    const std::string& title, const std::string& x_label, const std::string& y_label,
    const std::vector<std::pair<std::string, std::vector<std::pair<double, double>>>>& series,
    bool log_x, bool log_y);

}  // namespace kiln::train
