#include "kiln/train/sweep.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "kiln/io/file.h"
#include "kiln/train/trainer.h"

namespace kiln::train {
namespace {

namespace fs = std::filesystem;

// "0.01" for 0.01, "adamw" for "adamw", "[1,2]" for lists: a readable token.
std::string value_token(const Json& value) {
  if (value.is_string()) return value.get<std::string>();
  return value.dump();
}

// A directory-safe point name from its overrides: "agc.clipping=0.01,lr=0.1".
std::string point_name(const Json& set) {
  std::vector<std::string> parts;
  for (auto it = set.begin(); it != set.end(); ++it) {
    std::string key = it.key();
    const size_t dot = key.rfind('.');
    if (dot != std::string::npos) key = key.substr(dot + 1);
    parts.push_back(absl::StrCat(key, "=", value_token(it.value())));
  }
  std::string name = parts.empty() ? "base" : absl::StrJoin(parts, ",");
  for (char& c : name) {
    if (c == '/' || c == ' ' || c == '"' || c == '\'' || c == '[' || c == ']') c = '_';
  }
  return name;
}

std::vector<SweepPoint> grid_points(const Json& grid, ObjectReader& r) {
  std::vector<SweepPoint> points{{"", Json::object()}};
  for (auto it = grid.begin(); it != grid.end(); ++it) {
    if (!it.value().is_array() || it.value().empty()) {
      r.fail("grid." + it.key(), "must be a non-empty list of values");
    }
    std::vector<SweepPoint> next;
    for (const SweepPoint& p : points) {
      for (const Json& v : it.value()) {
        SweepPoint q = p;
        q.set[it.key()] = v;
        next.push_back(q);
      }
    }
    points = std::move(next);
  }
  for (SweepPoint& p : points) p.name = point_name(p.set);
  return points;
}

// The value of a column for a row: an override or a summary key.
std::optional<Json> lookup(const Json& row, const std::string& key) {
  if (row["set"].contains(key)) return row["set"][key];
  if (row["summary"].contains(key)) return row["summary"][key];
  return std::nullopt;
}

std::string cell(const std::optional<Json>& v) {
  if (!v) return "";
  if (v->is_number_float()) return absl::StrFormat("%.5g", v->get<double>());
  return value_token(*v);
}

// Renames DIR to the first free DIR.interrupted-N.
absl::StatusOr<fs::path> move_aside(const fs::path& dir) {
  std::error_code ec;
  for (int n = 1; n < 1000; ++n) {
    fs::path target = dir;
    target += absl::StrCat(".interrupted-", n);
    if (fs::exists(target, ec)) continue;
    fs::rename(dir, target, ec);
    if (ec) {
      return absl::InternalError(
          absl::StrCat(dir.string(), ": cannot move to ", target.string(), ": ", ec.message()));
    }
    return target;
  }
  return absl::AlreadyExistsError(absl::StrCat(dir.string(), ": too many .interrupted-N copies"));
}

// Without the thread count, which does not change what is computed, and
// unordered (key order in the config files does not matter).
nlohmann::json comparable_config(const Json& resolved) {
  nlohmann::json c = nlohmann::json::parse(resolved.dump());
  if (c.contains("train") && c["train"].is_object()) c["train"].erase("threads");
  return c;
}

// OK if DIR/config.json (what the finished run used) equals `resolved` in
// everything but the thread count, which does not change what is computed.
absl::Status check_same_config(const fs::path& dir, const Json& resolved) {
  absl::StatusOr<Json> saved = read_json_file((dir / "config.json").string());
  if (!saved.ok()) return saved.status();
  const nlohmann::json before = comparable_config(*saved);
  const nlohmann::json now = comparable_config(resolved);
  if (before == now) return absl::OkStatus();
  const nlohmann::json patch = nlohmann::json::diff(before, now);
  return absl::FailedPreconditionError(absl::StrCat(
      dir.string(), " finished with a different config (", patch.front().value("path", "?"),
      " differs); move the directory away or change output_dir to run the point again"));
}

// The point's evaluation scalars: reused from DIR/evaluation.json when it
// was made for the same config, training and "evaluate" section, else run
// and saved there.
absl::StatusOr<Json> evaluate_point(const SweepSpec& spec, const SweepPoint& point,
                                    const ExperimentConfig& config, const fs::path& dir,
                                    std::FILE* console) {
  const nlohmann::json key = {{"config", comparable_config(config.resolved)},
                              {"trained", point.train},
                              {"evaluate", nlohmann::json::parse(spec.evaluate_section.dump())}};
  const fs::path file = dir / "evaluation.json";
  if (fs::exists(file)) {
    absl::StatusOr<Json> saved = read_json_file(file.string());
    if (saved.ok() && saved->contains("key") && saved->contains("summary") &&
        nlohmann::json::parse((*saved)["key"].dump()) == key) {
      return (*saved)["summary"];
    }
  }
  std::fprintf(console, "  evaluating %s: %s\n", point.name.c_str(), spec.evaluate->name.c_str());
  absl::StatusOr<Json> summary = evaluate_run(*spec.evaluate, config, dir.string(), point.train);
  if (!summary.ok()) {
    return absl::Status(summary.status().code(),
                        absl::StrCat("point ", point.name, ": ", summary.status().message()));
  }
  const Json saved = {{"key", Json::parse(key.dump())}, {"summary", *summary}};
  if (absl::Status s = io::write_file_atomic(file.string(), saved.dump(2) + "\n"); !s.ok()) {
    return s;
  }
  return summary;
}

}  // namespace

absl::StatusOr<SweepSpec> load_sweep(const std::string& path,
                                     const std::vector<std::string>& overrides) {
  absl::StatusOr<Json> json = load_json_config(path);
  if (!json.ok()) return json.status();
  for (const std::string& o : overrides) {
    if (absl::Status s = apply_override(*json, o); !s.ok()) return s;
  }
  SweepSpec spec;
  spec.file = path;
  try {
    ObjectReader r(*json, "", path);
    std::string base;
    r.require("base", &base);
    spec.base = (fs::path(path).parent_path() / base).string();
    if (r.has("set")) {
      spec.set = r.raw("set");
      if (!spec.set.is_object()) r.fail("set", "must be an object of \"key.path\": value");
    }
    if (r.has("grid") == r.has("points")) r.fail("grid", "give exactly one of grid and points");
    if (r.has("grid")) {
      const Json& grid = r.raw("grid");
      if (!grid.is_object()) r.fail("grid", "must be an object of \"key.path\": [values]");
      spec.points = grid_points(grid, r);
    } else {
      const Json& points = r.raw("points");
      if (!points.is_array() || points.empty()) r.fail("points", "must be a non-empty list");
      for (size_t i = 0; i < points.size(); ++i) {
        ObjectReader p(points[i], absl::StrCat("points.", i), path);
        SweepPoint point;
        p.read("name", &point.name);
        p.read("train", &point.train);
        if (p.has("set")) point.set = p.raw("set");
        if (!point.set.is_object()) p.fail("set", "must be an object");
        if (point.name.empty()) point.name = point_name(point.set);
        p.finish();
        spec.points.push_back(point);
      }
    }
    r.read("columns", &spec.columns);
    ObjectReader plot = r.object("plot");
    plot.read("x", &spec.plot.x);
    plot.read("y", &spec.plot.y);
    plot.read("series", &spec.plot.series);
    plot.read("log_x", &spec.plot.log_x);
    plot.read("log_y", &spec.plot.log_y);
    plot.finish();
    if (r.has("fit")) {
      ObjectReader fit = r.object("fit");
      FitSpec f;
      fit.require("x", &f.x);
      fit.require("y", &f.y);
      fit.read("form", &f.form);
      fit.check_one_of("form", f.form, {"power_law"});
      fit.read("frontier", &f.frontier);
      fit.finish();
      spec.fit = f;
    }
    if (r.has("evaluate")) {
      spec.evaluate_section = r.raw("evaluate");
      ObjectReader evaluate = r.object("evaluate");
      spec.evaluate = read_run_evaluation(evaluate);
    }
    for (size_t i = 0; i < spec.points.size(); ++i) {
      if (!spec.points[i].train && !spec.evaluate) {
        r.fail(absl::StrCat("points.", i, ".train"),
               "is false, but the sweep has no \"evaluate\" section to run instead");
      }
    }
    r.require("output_dir", &spec.output_dir);
    r.finish();
  } catch (const ConfigError& e) {
    return absl::InvalidArgumentError(e.message);
  }
  std::map<std::string, int> seen;
  for (const SweepPoint& p : spec.points) {
    if (seen[p.name]++ > 0) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": two points are named ", p.name));
    }
  }
  return spec;
}

absl::StatusOr<Json> run_sweep(const SweepSpec& spec, const SweepOptions& options) {
  Json rows = Json::array();
  for (size_t i = 0; i < spec.points.size(); ++i) {
    const SweepPoint& point = spec.points[i];
    const fs::path dir = fs::path(spec.output_dir) / point.name;
    Json row = {{"name", point.name}, {"set", point.set}, {"summary", Json::object()}};
    if (!options.only.empty() && point.name.find(options.only) == std::string::npos) continue;

    std::vector<std::string> sets;
    for (auto it = spec.set.begin(); it != spec.set.end(); ++it) {
      sets.push_back(absl::StrCat(it.key(), "=", it.value().dump()));
    }
    for (auto it = point.set.begin(); it != point.set.end(); ++it) {
      sets.push_back(absl::StrCat(it.key(), "=", it.value().dump()));
    }
    sets.push_back(absl::StrCat("output_dir=", Json(dir.string()).dump()));
    absl::StatusOr<ExperimentConfig> config = load_experiment(spec.base, sets);
    if (!config.ok()) {
      return absl::Status(config.status().code(),
                          absl::StrCat("point ", point.name, ": ", config.status().message()));
    }

    // A summary with the point's evaluation scalars added (if the sweep has
    // an "evaluate" section).
    const auto with_evaluation = [&](Json summary) -> absl::StatusOr<Json> {
      if (!spec.evaluate) return summary;
      absl::StatusOr<Json> evaluation = evaluate_point(spec, point, *config, dir, options.console);
      if (!evaluation.ok()) return evaluation.status();
      summary.update(*evaluation);
      return summary;
    };
    if (!point.train) {
      std::fprintf(options.console, "[%zu/%zu] %s: not trained (evaluated at initialisation)\n",
                   i + 1, spec.points.size(), point.name.c_str());
      absl::StatusOr<Json> summary = with_evaluation(Json::object());
      if (!summary.ok()) return summary.status();
      row["summary"] = *summary;
      rows.push_back(row);
      continue;
    }
    // Finished points are not run again, unless their config has changed
    // since: then the old result must not stand in for the new one.
    // A missing or unreadable summary: the point runs (again).
    if (absl::StatusOr<Json> summary = read_json_file((dir / "summary.json").string());
        summary.ok()) {
      if (!summary->value("interrupted", true)) {
        if (absl::Status same = check_same_config(dir, config->resolved); !same.ok()) {
          return absl::Status(same.code(),
                              absl::StrCat("point ", point.name, ": ", same.message()));
        }
        std::fprintf(options.console, "[%zu/%zu] %s: done before, skipped\n", i + 1,
                     spec.points.size(), point.name.c_str());
        absl::StatusOr<Json> evaluated = with_evaluation(*summary);
        if (!evaluated.ok()) return evaluated.status();
        row["summary"] = *evaluated;
        rows.push_back(row);
        continue;
      }
    }
    std::fprintf(options.console, "[%zu/%zu] %s\n", i + 1, spec.points.size(), point.name.c_str());
    TrainOptions train_options;
    train_options.console = options.console;
    train_options.interactive = options.interactive;
    std::error_code ec;
    train_options.resume = fs::exists(dir / "checkpoints", ec);
    if (!train_options.resume && fs::exists(dir / "metrics.jsonl", ec)) {
      // Interrupted before its first checkpoint: nothing to resume from, so
      // the point starts again; its partial run is kept beside it.
      absl::StatusOr<fs::path> kept = move_aside(dir);
      if (!kept.ok()) return kept.status();
      std::fprintf(options.console,
                   "  no checkpoint to resume from: restarting (partial run kept in %s)\n",
                   kept->string().c_str());
    }
    absl::StatusOr<TrainResult> result = train(*config, train_options);
    if (!result.ok()) {
      return absl::Status(result.status().code(),
                          absl::StrCat("point ", point.name, ": ", result.status().message()));
    }
    if (result->interrupted) {
      return absl::CancelledError(absl::StrCat("sweep interrupted during ", point.name,
                                               "; run the same command to continue"));
    }
    absl::StatusOr<Json> evaluated = with_evaluation(result->summary);
    if (!evaluated.ok()) return evaluated.status();
    row["summary"] = *evaluated;
    rows.push_back(row);
  }
  if (absl::Status s = write_sweep_results(spec, rows, spec.output_dir); !s.ok()) return s;
  return rows;
}

absl::Status write_sweep_results(const SweepSpec& spec, const Json& rows, const std::string& dir) {
  std::vector<std::string> keys;
  for (const SweepPoint& p : spec.points) {
    for (auto it = p.set.begin(); it != p.set.end(); ++it) {
      if (std::find(keys.begin(), keys.end(), it.key()) == keys.end()) keys.push_back(it.key());
    }
  }
  std::vector<std::string> columns = spec.columns;
  if (columns.empty())
    columns = {"final_train_loss", "eval_loss", "eval_accuracy", "examples_per_second"};

  std::ostringstream csv, md;
  std::vector<std::string> header{"point"};
  header.insert(header.end(), keys.begin(), keys.end());
  header.insert(header.end(), columns.begin(), columns.end());
  csv << absl::StrJoin(header, ",") << "\n";
  md << "| " << absl::StrJoin(header, " | ") << " |\n|";
  for (size_t i = 0; i < header.size(); ++i) md << "---|";
  md << "\n";
  for (const Json& row : rows) {
    std::vector<std::string> cells{row["name"].get<std::string>()};
    for (const std::string& k : keys) cells.push_back(cell(lookup(row, k)));
    for (const std::string& c : columns) cells.push_back(cell(lookup(row, c)));
    std::vector<std::string> quoted;
    for (const std::string& c : cells) {
      quoted.push_back(c.find(',') == std::string::npos
                           ? c
                           : "\"" + absl::StrReplaceAll(c, {{"\"", "\"\""}}) + "\"");
    }
    csv << absl::StrJoin(quoted, ",") << "\n";
    md << "| " << absl::StrJoin(cells, " | ") << " |\n";
  }
  std::optional<PowerLawFit> fit;
  if (spec.fit) {
    absl::StatusOr<PowerLawFit> f = fit_sweep(spec, rows);
    md << "\n## Fit\n\n";
    if (f.ok()) {
      fit = *f;
      md << absl::StrFormat("`%s = a * %s^b` over %s: a = %.6g, **b = %.4f**, R^2 = %.4f\n\n",
                            spec.fit->y, spec.fit->x,
                            spec.fit->frontier
                                ? absl::StrCat("the lower envelope (", f->points.size(), " points)")
                                : absl::StrCat("all ", f->points.size(), " points"),
                            f->a, f->b, f->r2);
      md << "| " << spec.fit->x << " | " << spec.fit->y << " | fitted |\n|---|---|---|\n";
      for (const auto& [x, y] : f->points) {
        md << absl::StrFormat("| %.5g | %.5g | %.5g |\n", x, y, f->a * std::pow(x, f->b));
      }
    } else {
      md << "no fit: " << f.status().message() << "\n";
    }
  }
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (fit) {
    Json points = Json::array();
    for (const auto& [x, y] : fit->points) points.push_back({x, y});
    const Json out = {{"x", spec.fit->x},
                      {"y", spec.fit->y},
                      {"form", spec.fit->form},
                      {"frontier", spec.fit->frontier},
                      {"a", fit->a},
                      {"b", fit->b},
                      {"r2", fit->r2},
                      {"points", points}};
    if (absl::Status s =
            io::write_file_atomic((fs::path(dir) / "fit.json").string(), out.dump(2) + "\n");
        !s.ok()) {
      return s;
    }
  }
  for (const auto& [name, text] : {std::pair{"results.csv", csv.str()}, {"results.md", md.str()}}) {
    if (absl::Status s = io::write_file_atomic((fs::path(dir) / name).string(), text); !s.ok()) {
      return s;
    }
  }

  // The plot: y against x, one line per series value.
  PlotSpec plot = spec.plot;
  if (plot.x.empty() && !keys.empty()) plot.x = keys.front();
  if (plot.y.empty()) plot.y = columns.front();
  std::map<std::string, std::vector<std::pair<double, double>>> lines;
  for (const Json& row : rows) {
    const std::optional<Json> x = lookup(row, plot.x);
    const std::optional<Json> y = lookup(row, plot.y);
    if (!x || !y || !x->is_number() || !y->is_number()) continue;
    const std::string series = plot.series.empty() ? plot.y : cell(lookup(row, plot.series));
    lines[series].emplace_back(x->get<double>(), y->get<double>());
  }
  std::vector<std::pair<std::string, std::vector<std::pair<double, double>>>> ordered;
  for (auto& [name, points] : lines) {
    std::sort(points.begin(), points.end());
    ordered.emplace_back(plot.series.empty() ? name : plot.series + "=" + name, points);
  }
  if (fit && plot.x == spec.fit->x && plot.y == spec.fit->y && !fit->points.empty()) {
    // The fitted law across the x range of every point.
    double lo = INFINITY, hi = -INFINITY;
    for (const auto& [name, points] : ordered) {
      for (const auto& [x, y] : points) {
        if (x > 0) lo = std::min(lo, x), hi = std::max(hi, x);
      }
    }
    if (std::isfinite(lo)) {
      XYPoints line;
      for (const double x : {lo, hi}) line.emplace_back(x, fit->a * std::pow(x, fit->b));
      ordered.emplace_back(absl::StrFormat("fit: b = %.3f", fit->b), line);
    }
  }
  return io::write_file_atomic((fs::path(dir) / "results.svg").string(),
                               svg_line_chart(fs::path(spec.file).stem().string(), plot.x, plot.y,
                                              ordered, plot.log_x, plot.log_y));
}

XYPoints lower_envelope(XYPoints points) {
  std::erase_if(points, [](const std::pair<double, double>& p) {
    return !std::isfinite(p.first) || !std::isfinite(p.second);
  });
  std::sort(points.begin(), points.end());
  XYPoints envelope;
  for (const auto& p : points) {
    // Sorted by (x, y): at a repeated x the first point has the smallest y.
    if (envelope.empty() || p.second < envelope.back().second) envelope.push_back(p);
  }
  return envelope;
}

absl::StatusOr<PowerLawFit> fit_power_law(const XYPoints& points, bool frontier) {
  XYPoints usable;
  for (const auto& [x, y] : points) {
    if (x > 0 && y > 0 && std::isfinite(x) && std::isfinite(y)) usable.emplace_back(x, y);
  }
  PowerLawFit fit;
  fit.points = frontier ? lower_envelope(usable) : usable;
  std::sort(fit.points.begin(), fit.points.end());
  const double n = static_cast<double>(fit.points.size());
  double sx = 0, sy = 0;
  for (const auto& [x, y] : fit.points) sx += std::log(x), sy += std::log(y);
  const double mx = sx / n, my = sy / n;
  double sxx = 0, sxy = 0, syy = 0;
  for (const auto& [x, y] : fit.points) {
    const double dx = std::log(x) - mx, dy = std::log(y) - my;
    sxx += dx * dx, sxy += dx * dy, syy += dy * dy;
  }
  if (fit.points.size() < 2 || !(sxx > 0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a power law needs at least two points with distinct positive x and positive y, got ",
        fit.points.size(), frontier ? " on the lower envelope" : ""));
  }
  fit.b = sxy / sxx;
  fit.a = std::exp(my - fit.b * mx);
  fit.r2 = syy > 0 ? sxy * sxy / (sxx * syy) : 1.0;
  return fit;
}

absl::StatusOr<PowerLawFit> fit_sweep(const SweepSpec& spec, const Json& rows) {
  if (!spec.fit) return absl::InvalidArgumentError(absl::StrCat(spec.file, ": no fit section"));
  XYPoints points;
  for (const Json& row : rows) {
    const std::optional<Json> x = lookup(row, spec.fit->x);
    const std::optional<Json> y = lookup(row, spec.fit->y);
    if (x && y && x->is_number() && y->is_number()) {
      points.emplace_back(x->get<double>(), y->get<double>());
    }
  }
  return fit_power_law(points, spec.fit->frontier);
}

std::string svg_line_chart(
    const std::string& title, const std::string& x_label, const std::string& y_label,
    const std::vector<std::pair<std::string, std::vector<std::pair<double, double>>>>& series,
    bool log_x, bool log_y) {
  constexpr double kW = 640, kH = 420, kLeft = 70, kRight = 170, kTop = 40, kBottom = 50;
  auto tx = [&](double v) { return log_x ? std::log10(std::max(v, 1e-300)) : v; };
  auto ty = [&](double v) { return log_y ? std::log10(std::max(v, 1e-300)) : v; };
  double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
  for (const auto& [name, points] : series) {
    for (const auto& [x, y] : points) {
      x0 = std::min(x0, tx(x));
      x1 = std::max(x1, tx(x));
      y0 = std::min(y0, ty(y));
      y1 = std::max(y1, ty(y));
    }
  }
  if (!std::isfinite(x0)) x0 = 0, x1 = 1, y0 = 0, y1 = 1;
  if (x1 == x0) x1 = x0 + 1;
  if (y1 == y0) y1 = y0 + 1;
  const double pw = kW - kLeft - kRight, ph = kH - kTop - kBottom;
  auto px = [&](double x) { return kLeft + (tx(x) - x0) / (x1 - x0) * pw; };
  auto py = [&](double y) { return kTop + ph - (ty(y) - y0) / (y1 - y0) * ph; };
  static const char* kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                  "#9467bd", "#8c564b", "#e377c2", "#17becf"};
  std::ostringstream svg;
  svg << absl::StrFormat(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%g\" height=\"%g\" "
      "font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" "
      "fill=\"white\"/>\n",
      kW, kH);
  svg << absl::StrFormat("<text x=\"%g\" y=\"22\" font-size=\"15\">%s</text>\n", kLeft, title);
  svg << absl::StrFormat(
      "<rect x=\"%g\" y=\"%g\" width=\"%g\" height=\"%g\" fill=\"none\" stroke=\"black\"/>\n",
      kLeft, kTop, pw, ph);
  for (int i = 0; i <= 4; ++i) {
    const double fx = x0 + (x1 - x0) * i / 4, fy = y0 + (y1 - y0) * i / 4;
    const double vx = log_x ? std::pow(10, fx) : fx, vy = log_y ? std::pow(10, fy) : fy;
    svg << absl::StrFormat("<text x=\"%g\" y=\"%g\" text-anchor=\"middle\">%.3g</text>\n",
                           kLeft + pw * i / 4, kTop + ph + 16, vx);
    svg << absl::StrFormat("<text x=\"%g\" y=\"%g\" text-anchor=\"end\">%.3g</text>\n", kLeft - 6,
                           kTop + ph - ph * i / 4 + 4, vy);
  }
  svg << absl::StrFormat("<text x=\"%g\" y=\"%g\" text-anchor=\"middle\">%s%s</text>\n",
                         kLeft + pw / 2, kH - 12, x_label, log_x ? " (log)" : "");
  svg << absl::StrFormat(
      "<text transform=\"translate(16,%g) rotate(-90)\" text-anchor=\"middle\">%s%s</text>\n",
      kTop + ph / 2, y_label, log_y ? " (log)" : "");
  for (size_t s = 0; s < series.size(); ++s) {
    const char* color = kColors[s % 8];
    std::string path;
    for (const auto& [x, y] : series[s].second) {
      absl::StrAppend(&path, absl::StrFormat("%.1f,%.1f ", px(x), py(y)));
      svg << absl::StrFormat("<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n", px(x),
                             py(y), color);
    }
    svg << absl::StrFormat("<polyline points=\"%s\" fill=\"none\" stroke=\"%s\"/>\n", path, color);
    svg << absl::StrFormat("<text x=\"%g\" y=\"%g\" fill=\"%s\">%s</text>\n", kW - kRight + 10,
                           kTop + 14 + 16.0 * static_cast<double>(s), color, series[s].first);
  }
  svg << "</svg>\n";
  return svg.str();
}

}  // namespace kiln::train
