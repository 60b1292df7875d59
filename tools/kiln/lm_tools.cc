#include "tools/kiln/lm_tools.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "kiln/autograd/grad_mode.h"
#include "kiln/data/dataset.h"
#include "kiln/ops/nn.h"
#include "kiln/ops/shape.h"
#include "kiln/train/checkpoint.h"
#include "kiln/train/model_registry.h"
#include "kiln/train/sweep.h"

namespace kiln::cli {

namespace fs = std::filesystem;

absl::StatusOr<std::shared_ptr<models::Model>> build_initial_model(
    const train::ExperimentConfig& config, const train::RunData& data) {
  // The trainer's streams: initialisation seed * 2 + 1, noise seed * 2 + 2.
  Generator init_gen(config.train.seed * 2 + 1);
  return train::build_model(config.model.name, config.model.options,
                            {.input_shape = data.input_shape,
                             .num_classes = data.num_classes,
                             .init_gen = &init_gen,
                             .dropout_gen = std::make_shared<Generator>(config.train.seed * 2 + 2)},
                            config.file);
}

absl::StatusOr<int64_t> load_checkpoint_weights(models::Model& model, const std::string& path,
                                                bool ema) {
  return train::load_module_weights(model, path, ema ? "ema_model" : "model");
}

std::vector<double> token_nll(models::Model& model, const Tensor& tokens) {
  KILN_CHECK(tokens.dim() == 2 && tokens.size(1) >= 2, "token_nll: tokens must be (B, T + 1), got ",
             shape_str(tokens.shape()));
  NoGradGuard no_grad;
  model.eval();
  const int64_t t = tokens.size(1) - 1;
  const Tensor inputs = contiguous(narrow(tokens, 1, 0, t));
  const Tensor targets = unsqueeze(contiguous(narrow(tokens, 1, 1, t)), 2);  // (B, T, 1)
  const Tensor logp = log_softmax(model.forward(inputs), -1);                // (B, T, V)
  std::vector<double> nll = to_vector(gather(logp, 2, targets));
  for (double& v : nll) v = -v;
  return nll;
}

absl::Status write_text_file(const std::string& path, const std::string& text) {
  std::error_code ec;
  const fs::path parent = fs::path(path).parent_path();
  if (!parent.empty()) fs::create_directories(parent, ec);
  std::ofstream out(path, std::ios::binary);
  out << text;
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

std::string svg_heatmap(const std::string& title, const std::vector<std::string>& row_labels,
                        const std::vector<std::string>& col_labels,
                        const std::vector<std::vector<double>>& values, const std::string& x_label,
                        const std::string& y_label) {
  constexpr double kCell = 64, kLeft = 110, kTop = 50, kBottom = 60, kRight = 30;
  const double w = kLeft + kCell * static_cast<double>(col_labels.size()) + kRight;
  const double h = kTop + kCell * static_cast<double>(row_labels.size()) + kBottom;
  std::string s = absl::StrFormat(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
      "font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" "
      "fill=\"white\"/>\n<text x=\"%.0f\" y=\"24\" font-size=\"15\">%s</text>\n",
      w, h, kLeft, title);
  for (size_t r = 0; r < row_labels.size(); ++r) {
    const double y = kTop + kCell * static_cast<double>(r);
    absl::StrAppendFormat(&s, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"end\">%s</text>\n",
                          kLeft - 8, y + kCell / 2 + 4, row_labels[r]);
    for (size_t c = 0; c < col_labels.size(); ++c) {
      const double x = kLeft + kCell * static_cast<double>(c);
      const double v = r < values.size() && c < values[r].size() ? values[r][c] : NAN;
      // Red (0) to green (1) through yellow; grey when missing.
      std::string fill = "#cccccc";
      if (std::isfinite(v)) {
        const double q = std::clamp(v, 0.0, 1.0);
        const int red = static_cast<int>(std::lround(255 * std::min(1.0, 2 * (1 - q))));
        const int green = static_cast<int>(std::lround(200 * std::min(1.0, 2 * q)));
        fill = absl::StrFormat("#%02x%02x40", red, green);
      }
      absl::StrAppendFormat(&s,
                            "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" "
                            "fill=\"%s\" stroke=\"white\"/>\n",
                            x, y, kCell, kCell, fill);
      if (std::isfinite(v)) {
        absl::StrAppendFormat(&s,
                              "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">%.2f</text>\n",
                              x + kCell / 2, y + kCell / 2 + 4, v);
      }
    }
  }
  for (size_t c = 0; c < col_labels.size(); ++c) {
    absl::StrAppendFormat(&s, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">%s</text>\n",
                          kLeft + kCell * (static_cast<double>(c) + 0.5),
                          kTop + kCell * static_cast<double>(row_labels.size()) + 18,
                          col_labels[c]);
  }
  absl::StrAppendFormat(&s, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">%s</text>\n",
                        kLeft + kCell * static_cast<double>(col_labels.size()) / 2, h - 12,
                        x_label);
  absl::StrAppendFormat(&s,
                        "<text x=\"16\" y=\"%.0f\" transform=\"rotate(-90 16 %.0f)\" "
                        "text-anchor=\"middle\">%s</text>\n",
                        kTop + kCell * static_cast<double>(row_labels.size()) / 2,
                        kTop + kCell * static_cast<double>(row_labels.size()) / 2, y_label);
  s += "</svg>\n";
  return s;
}

absl::StatusOr<train::Json> nll_by_position(models::Model& model, const train::RunData& data,
                                            const ByPositionOptions& options) {
  train::PositionNll acc;
  int64_t batches = data.eval_batches->size();
  if (options.max_batches > 0) batches = std::min(batches, options.max_batches);
  if (batches == 0) return absl::FailedPreconditionError("the held-out split has no batches");
  for (int64_t i = 0; i < batches; ++i) {
    const Tensor tokens = data.eval_batches->get(i).at(data::kTokensKey);
    const std::vector<double> nll = token_nll(model, tokens);
    acc.add(nll, tokens.size(0), tokens.size(1) - 1);
  }
  const std::vector<double> mean = acc.mean();
  const std::vector<double> cumulative = acc.cumulative_mean();
  const int64_t t = static_cast<int64_t>(mean.size());
  const auto buckets = train::log_position_buckets(t, options.buckets);

  // The fit: cumulative average NLL at each bucket's last position (evenly
  // spread in log x, as in the Gemini 1.5 report's plots).
  std::vector<double> fx, fy;
  for (const auto& [lo, hi] : buckets) {
    fx.push_back(static_cast<double>(hi));
    fy.push_back(cumulative[hi - 1]);
  }
  const train::OffsetPowerLawFit fit = train::fit_offset_power_law(fx, fy);

  std::string csv = "position,mean_nll,cumulative_mean_nll,examples\n";
  for (int64_t p = 0; p < t; ++p) {
    absl::StrAppendFormat(&csv, "%d,%.6f,%.6f,%d\n", p + 1, mean[p], cumulative[p], acc.count[p]);
  }
  std::string md =
      "| positions | mean NLL (nats) | bits per byte | cumulative mean NLL at end | fit |\n"
      "|---|---|---|---|---|\n";
  train::Json table = train::Json::array();
  std::vector<std::pair<double, double>> bucket_series, cum_series, fit_series;
  for (const auto& [lo, hi] : buckets) {
    double s = 0;
    int64_t n = 0;
    for (int64_t p = lo; p < hi; ++p) {
      s += acc.sum[p];
      n += acc.count[p];
    }
    const double m = n > 0 ? s / static_cast<double>(n) : 0.0;
    const double x = static_cast<double>(hi);
    absl::StrAppendFormat(&md, "| %d-%d | %.4f | %.4f | %.4f | %.4f |\n", lo + 1, hi, m,
                          m / std::log(2.0), cumulative[hi - 1], fit.ok ? fit(x) : NAN);
    table.push_back({{"first", lo + 1},
                     {"last", hi},
                     {"mean_nll", m},
                     {"cumulative_mean_nll", cumulative[hi - 1]}});
    bucket_series.emplace_back(std::sqrt(static_cast<double>(lo + 1) * x), m);
    cum_series.emplace_back(x, cumulative[hi - 1]);
    if (fit.ok) fit_series.emplace_back(x, fit(x));
  }
  absl::StrAppendFormat(
      &md, "\nfit of the cumulative mean NLL: L(x) = %.4f * x^%.4f + %.4f (rmse %.2g)\n", fit.a,
      fit.b, fit.c, fit.rmse);
  train::Json fit_json = {{"a", fit.a},
                          {"b", fit.b},
                          {"c", fit.c},
                          {"rmse", fit.rmse},
                          {"ok", fit.ok},
                          {"positions", t},
                          {"examples", acc.count.empty() ? 0 : acc.count[0]}};
  train::Json out = {{"fit", fit_json}, {"buckets", table}};
  if (!options.out_dir.empty()) {
    const fs::path dir(options.out_dir);
    std::vector<std::pair<std::string, std::vector<std::pair<double, double>>>> series = {
        {"bucket mean NLL", bucket_series}, {"cumulative mean NLL", cum_series}};
    if (fit.ok) {
      series.push_back(
          {absl::StrFormat("fit %.3g x^%.3f + %.3g", fit.a, fit.b, fit.c), fit_series});
    }
    for (const auto& [file, text] : std::vector<std::pair<std::string, std::string>>{
             {"nll_by_position.csv", csv},
             {"nll_by_position.md", md},
             {"nll_fit.json", out.dump(2) + "\n"},
             {"nll_by_position.svg",
              train::svg_line_chart("NLL by token position", "token position",
                                    "NLL (nats per byte)", series, true, false)}}) {
      if (absl::Status s = write_text_file((dir / file).string(), text); !s.ok()) return s;
    }
  }
  return out;
}

}  // namespace kiln::cli
