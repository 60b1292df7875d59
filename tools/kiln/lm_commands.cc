// kiln rankcollapse, kiln curves and kiln needle: the diagnostics of the
// transformer reproductions (deep vanilla transformers, mixture of experts,
// long context).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "kiln/autograd/grad_mode.h"
#include "kiln/core/context.h"
#include "kiln/data/text.h"
#include "kiln/models/transformer/transformer.h"
#include "kiln/ops/reduce.h"
#include "kiln/ops/shape.h"
#include "kiln/train/long_context.h"
#include "kiln/train/sweep.h"
#include "tools/kiln/commands.h"
#include "tools/kiln/lm_tools.h"

namespace kiln::cli {

namespace fs = std::filesystem;

namespace {

using Series = std::vector<std::pair<std::string, std::vector<std::pair<double, double>>>>;

// A config file or an ablation file (one with "base"): the named experiment
// configs it stands for, and the directory its outputs go under.
struct Experiments {
  std::vector<std::pair<std::string, train::ExperimentConfig>> configs;
  std::string output_dir;
  bool ablation = false;
};

absl::StatusOr<Experiments> load_experiments(const std::string& path,
                                             const std::vector<std::string>& sets,
                                             const std::string& only) {
  absl::StatusOr<train::Json> json = train::read_json_file(path);
  if (!json.ok()) return json.status();
  Experiments out;
  if (json->is_object() && json->contains("base")) {
    absl::StatusOr<train::SweepSpec> spec = train::load_sweep(path, sets);
    if (!spec.ok()) return spec.status();
    out.ablation = true;
    out.output_dir = spec->output_dir;
    for (const train::SweepPoint& point : spec->points) {
      if (!only.empty() && point.name.find(only) == std::string::npos) continue;
      std::vector<std::string> point_sets;
      for (auto it = spec->set.begin(); it != spec->set.end(); ++it) {
        point_sets.push_back(absl::StrCat(it.key(), "=", it.value().dump()));
      }
      for (auto it = point.set.begin(); it != point.set.end(); ++it) {
        point_sets.push_back(absl::StrCat(it.key(), "=", it.value().dump()));
      }
      point_sets.push_back(absl::StrCat(
          "output_dir=", train::Json((fs::path(spec->output_dir) / point.name).string()).dump()));
      absl::StatusOr<train::ExperimentConfig> config =
          train::load_experiment(spec->base, point_sets);
      if (!config.ok()) {
        return absl::Status(config.status().code(),
                            absl::StrCat("point ", point.name, ": ", config.status().message()));
      }
      out.configs.emplace_back(point.name, *std::move(config));
    }
  } else {
    absl::StatusOr<train::ExperimentConfig> config = train::load_experiment(path, sets);
    if (!config.ok()) return config.status();
    out.output_dir = config->output_dir;
    out.configs.emplace_back(fs::path(path).stem().string(), *std::move(config));
  }
  if (out.configs.empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": no points"));
  return out;
}

absl::Status write_files(const fs::path& dir,
                         const std::vector<std::pair<std::string, std::string>>& files) {
  for (const auto& [name, text] : files) {
    if (absl::Status s = write_text_file((dir / name).string(), text); !s.ok()) return s;
  }
  return absl::OkStatus();
}

// ------------------------------------------------------------ rankcollapse

constexpr char kRankCollapseHelp[] =
    "usage: kiln rankcollapse CONFIG|ABLATION [--set a.b=value ...] [--batches N]\n"
    "                         [--only TEXT] [--out DIR]\n"
    "\n"
    "The rank-collapse diagnostic of deep transformers at initialisation\n"
    "(2302.10322): builds each model exactly as 'kiln train' does at step 0,\n"
    "runs N held-out batches (default 1) and measures, for the representation\n"
    "entering every block and the last block's output (before the final norm),\n"
    "the mean cosine similarity between the representations of distinct\n"
    "positions of a sequence (1: every token the same, rank collapse) and the\n"
    "mean squared norm per feature (the q value). ABLATION runs every point of\n"
    "a 'kiln sweep' file (--set then edits the ablation file, --only filters\n"
    "points). Writes rank_collapse.{csv,md,svg} to DIR (default: the output_dir\n"
    "of the config or the ablation, /rank_collapse).\n";

struct LayerStats {
  double cosine = 0;
  double q = 0;
};

// x (B, T, D): mean over sequences of the mean cosine over pairs i != j.
LayerStats layer_stats(const Tensor& x) {
  const std::vector<double> v = to_vector(x);
  const int64_t b = x.size(0), t = x.size(1), d = x.size(2);
  LayerStats s;
  std::vector<double> unit(static_cast<size_t>(t * d));
  for (int64_t n = 0; n < b; ++n) {
    const double* seq = v.data() + n * t * d;
    for (int64_t i = 0; i < t; ++i) {
      double sq = 0;
      for (int64_t k = 0; k < d; ++k) sq += seq[i * d + k] * seq[i * d + k];
      s.q += sq / static_cast<double>(d);
      const double inv = sq > 0 ? 1.0 / std::sqrt(sq) : 0.0;
      for (int64_t k = 0; k < d; ++k) unit[i * d + k] = seq[i * d + k] * inv;
    }
    double total = 0;
    for (int64_t i = 0; i < t; ++i) {
      for (int64_t j = 0; j < i; ++j) {
        double dot = 0;
        for (int64_t k = 0; k < d; ++k) dot += unit[i * d + k] * unit[j * d + k];
        total += dot;
      }
    }
    if (t > 1) s.cosine += total / static_cast<double>(t * (t - 1) / 2);
  }
  s.cosine /= static_cast<double>(b);
  s.q /= static_cast<double>(b * t);
  return s;
}

}  // namespace

int rankcollapse_command(const std::vector<std::string>& argv) {
  int exit_code = 0;
  const std::optional<Args> args =
      parse_command(argv, kRankCollapseHelp, {"batches", "only", "out"}, {}, exit_code);
  if (!args) return exit_code;
  if (args->positional.size() != 1) return usage(kRankCollapseHelp);
  const std::optional<int64_t> batches = parse_int(args->option("batches"), 1);
  if (!batches || *batches < 1) return fail("--batches takes an integer >= 1");
  absl::StatusOr<Experiments> experiments =
      load_experiments(args->positional[0], args->sets, args->option("only").value_or(""));
  if (!experiments.ok()) return fail(std::string(experiments.status().message()));
  const fs::path out_dir =
      args->option("out").value_or((fs::path(experiments->output_dir) / "rank_collapse").string());

  std::string csv = "point,layer,mean_cosine,mean_sq_norm\n";
  std::string md =
      "| point | layers | cosine: embeddings | 1/4 depth | 1/2 depth | 3/4 depth | last "
      "block | q: last block |\n|---|---|---|---|---|---|---|---|\n";
  Series cos_series;
  for (auto& [name, config] : experiments->configs) {
    Context context({.num_threads = config.train.threads});
    ContextScope scope(context);
    absl::StatusOr<train::RunData> data = train::build_data(config);
    if (!data.ok()) return fail(std::string(data.status().message()));
    absl::StatusOr<std::shared_ptr<models::Model>> model = build_initial_model(config, *data);
    if (!model.ok()) return fail(std::string(model.status().message()));
    auto* transformer = dynamic_cast<models::Transformer*>(model->get());
    if (transformer == nullptr) {
      return fail(
          absl::StrCat(name, ": rankcollapse needs a transformer model, got ", config.model.name));
    }
    transformer->eval();
    std::vector<LayerStats> stats;
    const int64_t n = std::min<int64_t>(*batches, data->eval_batches->size());
    for (int64_t i = 0; i < n; ++i) {
      const Tensor tokens = data->eval_batches->get(i).at(data::kTokensKey);
      const Tensor inputs = contiguous(narrow(tokens, 1, 0, tokens.size(1) - 1));
      std::vector<Tensor> hidden;
      {
        NoGradGuard no_grad;
        transformer->forward(inputs, &hidden);
      }
      stats.resize(hidden.size());
      for (size_t l = 0; l < hidden.size(); ++l) {
        const LayerStats s = layer_stats(hidden[l]);
        stats[l].cosine += s.cosine / static_cast<double>(n);
        stats[l].q += s.q / static_cast<double>(n);
      }
    }
    std::vector<std::pair<double, double>> line;
    for (size_t l = 0; l < stats.size(); ++l) {
      absl::StrAppendFormat(&csv, "%s,%d,%.6f,%.6g\n", name, l, stats[l].cosine, stats[l].q);
      line.emplace_back(static_cast<double>(l), stats[l].cosine);
    }
    const size_t last = stats.size() - 1;
    absl::StrAppendFormat(&md, "| %s | %d | %.3f | %.3f | %.3f | %.3f | %.3f | %.3g |\n", name,
                          last, stats[0].cosine, stats[last / 4].cosine, stats[last / 2].cosine,
                          stats[3 * last / 4].cosine, stats[last].cosine, stats[last].q);
    std::printf("%s: mean cosine %.3f (embeddings) -> %.3f (after %zu blocks)\n", name.c_str(),
                stats[0].cosine, stats[last].cosine, last);
    std::fflush(stdout);
    cos_series.emplace_back(name, std::move(line));
  }
  absl::Status written = write_files(
      out_dir,
      {{"rank_collapse.csv", csv},
       {"rank_collapse.md", md},
       {"rank_collapse.svg",
        train::svg_line_chart("rank collapse at initialisation", "layer (0: embeddings)",
                              "mean cosine between positions", cos_series, false, false)}});
  if (!written.ok()) return fail(std::string(written.message()));
  std::printf("\n%s\nresults: %s/rank_collapse.md\n", md.c_str(), out_dir.string().c_str());
  return 0;
}

// ------------------------------------------------------------------ curves

namespace {

constexpr char kCurvesHelp[] =
    "usage: kiln curves ABLATION [--set ...] [--metrics a,b*c,...] [--smooth K]\n"
    "                   [--only TEXT] [--out DIR]\n"
    "\n"
    "Training curves of a sweep's points from their metrics.jsonl (run 'kiln\n"
    "sweep ABLATION' first): for each metric (default loss; '*' matches any\n"
    "text, e.g. moe_block1_expert*_share) a CSV and an SVG over steps (a trailing\n"
    "mean over K records, default 1, smooths the plot only), and a table of\n"
    "the first, final, minimum, maximum and last-10% mean per point and key.\n"
    "Writes curves.md, curves_<metric>.{csv,svg} to DIR (default: the\n"
    "ablation's output_dir).\n";

bool wildcard_match(const std::string& pattern, const std::string& key) {
  const size_t star = pattern.find('*');
  if (star == std::string::npos) return pattern == key;
  const std::string prefix = pattern.substr(0, star), suffix = pattern.substr(star + 1);
  return key.size() >= prefix.size() + suffix.size() && key.rfind(prefix, 0) == 0 &&
         key.compare(key.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string file_safe(const std::string& s) {
  std::string out;
  for (char c : s) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '_') ? c : '_';
  return out;
}

}  // namespace

int curves_command(const std::vector<std::string>& argv) {
  int exit_code = 0;
  const std::optional<Args> args =
      parse_command(argv, kCurvesHelp, {"metrics", "smooth", "only", "out"}, {}, exit_code);
  if (!args) return exit_code;
  if (args->positional.size() != 1) return usage(kCurvesHelp);
  const std::optional<int64_t> smooth = parse_int(args->option("smooth"), 1);
  if (!smooth || *smooth < 1) return fail("--smooth takes an integer >= 1");
  absl::StatusOr<Experiments> experiments =
      load_experiments(args->positional[0], args->sets, args->option("only").value_or(""));
  if (!experiments.ok()) return fail(std::string(experiments.status().message()));
  const fs::path out_dir = args->option("out").value_or(experiments->output_dir);
  std::vector<std::string> metrics =
      absl::StrSplit(args->option("metrics").value_or("loss"), ',', absl::SkipEmpty());

  // point -> records
  std::vector<std::pair<std::string, std::vector<train::Json>>> runs;
  for (const auto& [name, config] : experiments->configs) {
    const fs::path file = fs::path(config.output_dir) / "metrics.jsonl";
    std::ifstream in(file);
    if (!in) return fail(absl::StrCat(file.string(), ": missing (run kiln sweep first)"));
    std::vector<train::Json> records;
    std::string line;
    int64_t line_no = 0;
    while (std::getline(in, line)) {
      ++line_no;
      if (line.empty()) continue;
      absl::StatusOr<train::Json> j =
          train::parse_json(line, absl::StrCat(file.string(), ":", line_no));
      if (!j.ok()) return fail(std::string(j.status().message()));
      if (j->contains("step")) records.push_back(*std::move(j));
    }
    runs.emplace_back(name, std::move(records));
  }

  std::string md =
      "| point | metric | first | final | min | max | mean of the last 10% |\n"
      "|---|---|---|---|---|---|---|\n";
  std::vector<std::pair<std::string, std::string>> files;
  for (const std::string& metric : metrics) {
    std::string csv = "point,key,step,value\n";
    Series series;
    for (const auto& [name, records] : runs) {
      // key -> (step, value), in file order; a resumed run's repeated steps
      // keep the last record.
      std::map<std::string, std::map<int64_t, double>> curves;
      for (const train::Json& r : records) {
        for (auto it = r.begin(); it != r.end(); ++it) {
          if (!it.value().is_number() || !wildcard_match(metric, it.key())) continue;
          curves[it.key()][r["step"].get<int64_t>()] = it.value().get<double>();
        }
      }
      for (const auto& [key, curve] : curves) {
        std::vector<double> values;
        std::vector<std::pair<double, double>> points;
        for (const auto& [step, value] : curve) {
          absl::StrAppendFormat(&csv, "%s,%s,%d,%.6g\n", name, key, step, value);
          values.push_back(value);
          const int64_t from = std::max<int64_t>(0, static_cast<int64_t>(values.size()) - *smooth);
          double sum = 0;
          for (size_t i = static_cast<size_t>(from); i < values.size(); ++i) sum += values[i];
          points.emplace_back(static_cast<double>(step),
                              sum / static_cast<double>(values.size() - static_cast<size_t>(from)));
        }
        const size_t tail = std::max<size_t>(1, values.size() / 10);
        double tail_mean = 0;
        for (size_t i = values.size() - tail; i < values.size(); ++i) tail_mean += values[i];
        tail_mean /= static_cast<double>(tail);
        absl::StrAppendFormat(&md, "| %s | %s | %.4f | %.4f | %.4f | %.4f | %.4f |\n", name, key,
                              values.front(), values.back(),
                              *std::min_element(values.begin(), values.end()),
                              *std::max_element(values.begin(), values.end()), tail_mean);
        series.emplace_back(curves.size() == 1 ? name : absl::StrCat(name, " ", key),
                            std::move(points));
      }
    }
    if (series.empty()) {
      return fail(absl::StrCat("no metric matches '", metric, "' in the runs' metrics.jsonl"));
    }
    const std::string stem = absl::StrCat("curves_", file_safe(metric));
    files.emplace_back(stem + ".csv", csv);
    files.emplace_back(
        stem + ".svg",
        train::svg_line_chart(
            absl::StrCat(metric,
                         *smooth > 1 ? absl::StrCat(" (trailing mean of ", *smooth, ")") : ""),
            "step", metric, series, false, false));
  }
  files.emplace_back("curves.md", md);
  if (absl::Status s = write_files(out_dir, files); !s.ok()) return fail(std::string(s.message()));
  std::printf("%s\nresults: %s/curves.md\n", md.c_str(), out_dir.string().c_str());
  return 0;
}

// ------------------------------------------------------------------ needle

namespace {

constexpr char kNeedleHelp[] =
    "usage: kiln needle CONFIG --checkpoint PATH [--set a.b=value ...] [--ema]\n"
    "                   [--lengths 128,256,...] [--depths 0,0.25,0.5,0.75,1]\n"
    "                   [--trials N] [--candidates K] [--seed S] [--out DIR]\n"
    "\n"
    "Needle in a haystack (the Gemini 1.5 report's text test): for each context\n"
    "length L (bytes, default data.sequence_length) and depth, N trials (default\n"
    "10) each take L bytes of the held-out text of CONFIG's corpus (a random\n"
    "place per trial), insert \"The magic number is NNNN.\" at the sentence\n"
    "boundary nearest to the depth, and end with \"\\nWhat is the magic number?\n"
    "The magic number is \". Scored two ways: choice (the true 4-digit value has\n"
    "the highest likelihood among K candidates, default 10: chance 1/K) and\n"
    "greedy (the model's 4 greedy bytes are the value; chance 1e-4). The same\n"
    "trial uses the same value, distractors and haystack at every depth.\n"
    "The model must accept L + 4 tokens (max_len; rotary positions extrapolate,\n"
    "learned ones cannot). Writes needle.{csv,md} and needle_choice.svg,\n"
    "needle_greedy.svg heatmaps to DIR (default: output_dir/needle).\n";

std::string four_digits(std::mt19937_64& rng) {
  return std::to_string(std::uniform_int_distribution<int>(1000, 9999)(rng));
}

Tensor byte_tokens(const std::vector<std::string>& rows) {
  const int64_t t = static_cast<int64_t>(rows.front().size());
  std::vector<int64_t> ids;
  ids.reserve(rows.size() * static_cast<size_t>(t));
  for (const std::string& r : rows) {
    KILN_CHECK(static_cast<int64_t>(r.size()) == t, "byte_tokens: rows differ in length");
    for (unsigned char c : r) ids.push_back(c);
  }
  return from_vector(ids, {static_cast<int64_t>(rows.size()), t});
}

}  // namespace

int needle_command(const std::vector<std::string>& argv) {
  int exit_code = 0;
  const std::optional<Args> args = parse_command(
      argv, kNeedleHelp, {"checkpoint", "lengths", "depths", "trials", "candidates", "seed", "out"},
      {"ema"}, exit_code);
  if (!args) return exit_code;
  const std::optional<std::string> path = args->option("checkpoint");
  if (args->positional.size() != 1 || !path) return usage(kNeedleHelp);
  absl::StatusOr<train::ExperimentConfig> config =
      train::load_experiment(args->positional[0], args->sets);
  if (!config.ok()) return fail(std::string(config.status().message()));
  if (config->task.name != "language_modeling" || config->data.name != "text") {
    return fail("needle needs task language_modeling on data text");
  }
  const std::optional<int64_t> trials = parse_int(args->option("trials"), 10);
  const std::optional<int64_t> candidates = parse_int(args->option("candidates"), 10);
  const std::optional<int64_t> seed = parse_int(args->option("seed"), 0);
  if (!trials || *trials < 1 || !candidates || *candidates < 2 || !seed) {
    return fail("--trials >= 1, --candidates >= 2 and --seed take integers");
  }
  std::optional<std::vector<double>> lengths =
      args->option("lengths")
          ? parse_numbers(*args->option("lengths"))
          : std::vector<double>{static_cast<double>(config->data.sequence_length)};
  std::optional<std::vector<double>> depths =
      parse_numbers(args->option("depths").value_or("0,0.25,0.5,0.75,1"));
  if (!lengths || !depths) return fail("--lengths and --depths take comma-separated numbers");
  for (double d : *depths) {
    if (d < 0 || d > 1) return fail("--depths must be in [0, 1]");
  }
  const fs::path out_dir =
      args->option("out").value_or((fs::path(config->output_dir) / "needle").string());

  Context context({.num_threads = config->train.threads});
  ContextScope scope(context);
  absl::StatusOr<train::RunData> data = train::build_data(*config);
  if (!data.ok()) return fail(std::string(data.status().message()));
  absl::StatusOr<std::shared_ptr<models::Model>> model = build_initial_model(*config, *data);
  if (!model.ok()) return fail(std::string(model.status().message()));
  absl::StatusOr<int64_t> step = load_checkpoint_weights(**model, *path, args->has_flag("ema"));
  if (!step.ok()) return fail(std::string(step.status().message()));
  (*model)->eval();
  int64_t max_len = 0;
  if (auto* t = dynamic_cast<models::Transformer*>(model->get())) max_len = t->options().max_len;

  // The haystack source: the held-out bytes (the end of the corpus).
  absl::StatusOr<std::string> corpus = data::read_text_corpus(config->data.path);
  if (!corpus.ok()) return fail(std::string(corpus.status().message()));
  const int64_t n = static_cast<int64_t>(corpus->size());
  const int64_t held =
      static_cast<int64_t>(std::llround(config->data.eval_fraction * static_cast<double>(n)));
  const std::string source = corpus->substr(static_cast<size_t>(n - held));
  if (source.empty()) return fail("the held-out split is empty");

  std::string csv = "length,depth,trials,choice_accuracy,greedy_accuracy,mean_nll_margin\n";
  std::vector<std::vector<double>> choice_grid, greedy_grid;
  std::vector<std::string> row_labels, col_labels;
  for (double d : *depths) col_labels.push_back(absl::StrFormat("%g%%", 100 * d));
  train::Json json_rows = train::Json::array();
  for (double length_value : *lengths) {
    const int64_t len = static_cast<int64_t>(length_value);
    if (max_len > 0 && len + 4 > max_len) {
      return fail(absl::StrCat("length ", len, " needs max_len >= ", len + 4, " (the model has ",
                               max_len, "; --set model.max_len=... with rotary positions)"));
    }
    row_labels.push_back(absl::StrCat(len));
    choice_grid.emplace_back();
    greedy_grid.emplace_back();
    for (double depth : *depths) {
      int64_t chosen = 0, greedy = 0;
      double margin = 0;
      for (int64_t trial = 0; trial < *trials; ++trial) {
        // The same value, distractors and haystack for a trial at every depth.
        std::mt19937_64 rng(static_cast<uint64_t>(*seed) * 1000003u +
                            static_cast<uint64_t>(len) * 7919u + static_cast<uint64_t>(trial));
        const int64_t offset = std::uniform_int_distribution<int64_t>(0, held - 1)(rng);
        const std::string value = four_digits(rng);
        std::vector<std::string> cands = {value};
        while (static_cast<int64_t>(cands.size()) < *candidates) {
          const std::string c = four_digits(rng);
          if (std::find(cands.begin(), cands.end(), c) == cands.end()) cands.push_back(c);
        }
        train::NeedleExample ex;
        try {
          ex = train::make_needle_example(source, offset, len, depth, value);
        } catch (const Error& e) {
          return fail(e.what());
        }
        // Choice: the summed NLL of each candidate's 4 bytes after the prompt.
        std::vector<std::string> rows;
        for (const std::string& c : cands) rows.push_back(ex.prompt + c);
        const std::vector<double> nll = token_nll(**model, byte_tokens(rows));
        const int64_t t = len + 4 - 1;
        std::vector<double> score(cands.size(), 0.0);
        for (size_t k = 0; k < cands.size(); ++k) {
          for (int64_t p = len - 1; p < len + 3; ++p) score[k] += nll[k * t + p];
        }
        bool best = true;
        double others = 0;
        for (size_t k = 1; k < cands.size(); ++k) {
          best = best && score[0] < score[k];
          others += score[k];
        }
        chosen += best ? 1 : 0;
        margin += others / static_cast<double>(cands.size() - 1) - score[0];
        // Greedy: four argmax bytes.
        std::string text = ex.prompt;
        for (int i = 0; i < 4; ++i) {
          NoGradGuard no_grad;
          const Tensor logits = (*model)->forward(byte_tokens({text}));  // (1, T, V)
          const Tensor last = narrow(logits, 1, logits.size(1) - 1, 1);
          text += static_cast<char>(
              static_cast<unsigned char>(std::llround(to_vector(argmax(last, -1)).front())));
        }
        greedy += text.substr(ex.prompt.size()) == value ? 1 : 0;
      }
      const double nt = static_cast<double>(*trials);
      choice_grid.back().push_back(static_cast<double>(chosen) / nt);
      greedy_grid.back().push_back(static_cast<double>(greedy) / nt);
      absl::StrAppendFormat(&csv, "%d,%g,%d,%.4f,%.4f,%.4f\n", len, depth, *trials,
                            static_cast<double>(chosen) / nt, static_cast<double>(greedy) / nt,
                            margin / nt);
      json_rows.push_back({{"length", len},
                           {"depth", depth},
                           {"choice_accuracy", static_cast<double>(chosen) / nt},
                           {"greedy_accuracy", static_cast<double>(greedy) / nt},
                           {"mean_nll_margin", margin / nt}});
      std::printf("length %lld depth %g: choice %.2f greedy %.2f margin %.3f nats\n",
                  static_cast<long long>(len), depth, static_cast<double>(chosen) / nt,
                  static_cast<double>(greedy) / nt, margin / nt);
      std::fflush(stdout);
    }
  }
  auto table = [&](const std::string& title, const std::vector<std::vector<double>>& grid) {
    std::string s = absl::StrCat("**", title, "**\n\n| length \\ depth |");
    for (const std::string& c : col_labels) absl::StrAppend(&s, " ", c, " |");
    s += "\n|---|";
    for (size_t c = 0; c < col_labels.size(); ++c) s += "---|";
    s += "\n";
    for (size_t r = 0; r < row_labels.size(); ++r) {
      absl::StrAppend(&s, "| ", row_labels[r], " |");
      for (double v : grid[r]) absl::StrAppendFormat(&s, " %.2f |", v);
      s += "\n";
    }
    return s;
  };
  const std::string md = absl::StrCat(
      "checkpoint step ", *step, ", ", *trials, " trials per cell, ", *candidates,
      " candidates (choice chance ",
      absl::StrFormat("%.2f", 1.0 / static_cast<double>(*candidates)), ")\n\n",
      table("choice accuracy (true value most likely among the candidates)", choice_grid), "\n",
      table("greedy accuracy (4 greedy bytes = the value)", greedy_grid));
  absl::Status written = write_files(
      out_dir,
      {{"needle.csv", csv},
       {"needle.md", md},
       {"needle.json", train::Json({{"step", *step}, {"cells", json_rows}}).dump(2) + "\n"},
       {"needle_choice.svg",
        svg_heatmap(absl::StrFormat("needle retrieval, choice among %d", *candidates), row_labels,
                    col_labels, choice_grid, "needle depth", "context length (bytes)")},
       {"needle_greedy.svg", svg_heatmap("needle retrieval, greedy", row_labels, col_labels,
                                         greedy_grid, "needle depth", "context length (bytes)")}});
  if (!written.ok()) return fail(std::string(written.message()));
  std::printf("\n%s\nresults: %s/needle.md\n", md.c_str(), out_dir.string().c_str());
  return 0;
}

}  // namespace kiln::cli
