// Nowcast baselines and the evaluation loop over held-out radar batches.
#include "kiln/train/nowcast.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "kiln/core/error.h"
#include "kiln/data/radar.h"
#include "kiln/ops/shape.h"
#include "kiln/train/nowcast_metrics.h"
#include "src/train/builders.h"

namespace kiln::train {
namespace {

constexpr uint64_t kEnsembleStream = 0x454e53ull;  // "ENS"

void check_context(const Tensor& context, const ForecastRequest& request, const char* name) {
  KILN_CHECK(context.defined() && context.dim() == 5 && context.size(4) == 1 &&
                 context.dtype() == DType::kF32 && context.size(1) >= 1,
             name, ": expects context (B, Tc, H, W, 1) f32, got ",
             context.defined() ? shape_str(context.shape()) : "undefined");
  KILN_CHECK(request.lead_frames >= 1, name, ": lead_frames must be >= 1, got ",
             request.lead_frames);
}

Json number_or_null(double v) { return std::isfinite(v) ? Json(v) : Json(nullptr); }

Json series(const std::vector<double>& values) {
  Json out = Json::array();
  for (double v : values) out.push_back(number_or_null(v));
  return out;
}

std::string label(double v) { return absl::StrFormat("%g", v); }

double mean_of(const std::vector<double>& values) {
  double total = 0;
  for (double v : values) total += v;
  return values.empty() ? NAN : total / static_cast<double>(values.size());
}

// The PSD bins at wavelengths ..., 8, 4, 2 pixels of K bins (k = K-1,
// K/2-1, ...), longest wavelength first.
std::vector<size_t> octave_bins(size_t bins) {
  std::vector<size_t> out;
  for (size_t k = bins; k >= 1; k /= 2) out.insert(out.begin(), k - 1);
  return out;
}

double psd_ratio(const NowcastScores& s, size_t k) {
  return s.psd_truth[k] > 0 ? s.psd_forecast[k] / s.psd_truth[k] : NAN;
}

// Adds, per lead time, the members' standard deviation at every pixel
// (members: S tensors (B, Tl, H, W, 1) f32) to (*sums)[lead].
void add_spread(const std::vector<Tensor>& members, std::vector<double>* sums) {
  const Shape& shape = members.front().shape();
  const int64_t b = shape[0], leads = shape[1], pixels = shape[2] * shape[3];
  sums->resize(static_cast<size_t>(leads), 0.0);
  if (members.size() < 2) return;
  std::vector<Tensor> dense;  // keeps the contiguous copies alive
  std::vector<const float*> data;
  for (const Tensor& m : members) {
    dense.push_back(as_contiguous(m));
    data.push_back(dense.back().data<float>());
  }
  const double s = static_cast<double>(members.size());
  for (int64_t i = 0; i < b; ++i) {
    for (int64_t t = 0; t < leads; ++t) {
      double total = 0;
      for (int64_t p = (i * leads + t) * pixels, end = p + pixels; p < end; ++p) {
        double mean = 0, square = 0;
        for (const float* d : data) {
          mean += d[p];
          square += static_cast<double>(d[p]) * d[p];
        }
        mean /= s;
        total += std::sqrt(std::max(0.0, square / s - mean * mean));
      }
      (*sums)[static_cast<size_t>(t)] += total;
    }
  }
}

}  // namespace

Forecaster ensemble_forecaster(SampleFn sample) {
  return [sample = std::move(sample)](const Tensor& context, const ForecastRequest& request) {
    check_context(context, request, "ensemble_forecaster");
    KILN_CHECK(request.num_samples >= 1, "ensemble_forecaster: num_samples must be >= 1, got ",
               request.num_samples);
    std::vector<Tensor> members;
    for (int64_t s = 0; s < request.num_samples; ++s) {
      // Counter-based keys: member s depends on (seed, s) only.
      Generator gen = data::example_generator({.seed = request.seed}, kEnsembleStream, s);
      members.push_back(sample(context, request.lead_frames, gen));
    }
    return members;
  };
}

Forecaster persistence_forecaster() {
  return [](const Tensor& context, const ForecastRequest& request) {
    check_context(context, request, "persistence");
    const Tensor last = narrow(context, 1, context.size(1) - 1, 1);  // (B, 1, H, W, 1)
    Shape shape = context.shape();
    shape[1] = request.lead_frames;
    return std::vector<Tensor>{as_contiguous(expand(last, shape))};
  };
}

Forecaster advection_forecaster(const data::MotionEstimateOptions& options) {
  return [options](const Tensor& context, const ForecastRequest& request) {
    check_context(context, request, "advection");
    const Tensor src = as_contiguous(context);  // (B, Tc, H, W, 1)
    const int64_t b = context.size(0), tc = context.size(1), h = context.size(2),
                  w = context.size(3), tl = request.lead_frames;
    Tensor out = Tensor::empty({b, tl, h, w, 1});  // (B, Tl, H, W, 1)
    for (int64_t i = 0; i < b; ++i) {
      const Tensor frames = reshape(narrow(src, 0, i, 1), {tc, h, w});    // (Tc, H, W)
      const Tensor motion = data::estimate_motion(frames, options);       // (H, W, 2)
      const Tensor last = reshape(narrow(frames, 0, tc - 1, 1), {h, w});  // (H, W)
      const Tensor lead =
          data::advect(as_contiguous(last), motion, tl, data::Boundary::kZero);  // (Tl, H, W)
      std::memcpy(out.data<float>() + i * tl * h * w, lead.data<float>(),
                  static_cast<size_t>(tl * h * w) * sizeof(float));
    }
    return std::vector<Tensor>{out};
  };
}

NowcastScores evaluate_nowcast(const NamedForecaster& forecaster, const data::Dataset& batches,
                               const NowcastEvalOptions& o) {
  KILN_CHECK(o.context_frames >= 1 && o.num_samples >= 1 && o.max_batches >= 0,
             "evaluate_nowcast: invalid options: context_frames ", o.context_frames,
             ", num_samples ", o.num_samples, ", max_batches ", o.max_batches);
  const int64_t n = o.max_batches > 0 ? std::min(o.max_batches, batches.size()) : batches.size();
  KILN_CHECK(n >= 1, "evaluate_nowcast: no batches to evaluate");
  NowcastScores scores;
  scores.name = forecaster.name;
  std::unique_ptr<CsiAccumulator> csi;
  std::unique_ptr<CrpsAccumulator> crps;
  PsdAccumulator psd_forecast, psd_truth;
  std::vector<double> spread_sum;  // [lead]: sum over pixels of the members' std
  int64_t spread_pixels = 0;       // per lead
  for (int64_t step = 0; step < n; ++step) {
    const Tensor frames = batches.get(step).at(data::kFramesKey);  // (B, T, H, W, 1)
    KILN_CHECK(frames.dim() == 5 && frames.size(1) > o.context_frames,
               "evaluate_nowcast: batch frames ", shape_str(frames.shape()),
               " need (B, T, H, W, 1) with T > ", o.context_frames, " context frames");
    const int64_t leads = frames.size(1) - o.context_frames;
    const Tensor context =
        as_contiguous(narrow(frames, 1, 0, o.context_frames));  // (B, Tc, H, W, 1)
    const Tensor truth =
        as_contiguous(narrow(frames, 1, o.context_frames, leads));  // (B, Tl, H, W, 1)
    if (!csi) {
      csi = std::make_unique<CsiAccumulator>(o.thresholds, leads);
      std::vector<int64_t> scales;
      for (int64_t s : o.pool_scales) {
        if (s <= std::min(frames.size(2), frames.size(3))) scales.push_back(s);
      }
      crps = std::make_unique<CrpsAccumulator>(scales, leads);
    }
    const ForecastRequest request{.lead_frames = leads,
                                  .num_samples = o.num_samples,
                                  .seed = o.seed + static_cast<uint64_t>(step)};
    const std::vector<Tensor> members = forecaster.forecast(context, request);
    KILN_CHECK(!members.empty(), "evaluate_nowcast: forecaster ", forecaster.name,
               " returned no forecast");
    for (const Tensor& m : members) {
      KILN_CHECK(m.defined() && m.shape() == truth.shape() && m.dtype() == DType::kF32,
                 "evaluate_nowcast: forecaster ", forecaster.name, " returned ",
                 m.defined() ? shape_str(m.shape()) : "undefined", ", expected ",
                 shape_str(truth.shape()), " f32");
      csi->add(m, truth);
      psd_forecast.add(m);
    }
    crps->add(members, truth);
    psd_truth.add(truth);
    add_spread(members, &spread_sum);
    spread_pixels += truth.numel() / leads;
    scores.examples += frames.size(0);
    scores.members = static_cast<int64_t>(members.size());
  }
  scores.thresholds = o.thresholds;
  scores.csi = csi->csi();
  scores.pool_scales = crps->scales();
  scores.crps = crps->crps();
  for (double s : spread_sum) scores.spread.push_back(s / static_cast<double>(spread_pixels));
  scores.frequencies = psd_truth.frequencies();
  scores.psd_forecast = psd_forecast.psd();
  scores.psd_truth = psd_truth.psd();
  return scores;
}

Json nowcast_scores_json(const NowcastScores& s) {
  Json csi = Json::object(), crps = Json::object();
  for (size_t k = 0; k < s.thresholds.size(); ++k) csi[label(s.thresholds[k])] = series(s.csi[k]);
  for (size_t k = 0; k < s.pool_scales.size(); ++k) {
    crps[absl::StrCat(s.pool_scales[k])] = series(s.crps[k]);
  }
  Json out = Json::object();
  out["name"] = s.name;
  out["examples"] = s.examples;
  out["members"] = s.members;
  out["csi"] = std::move(csi);
  out["crps"] = std::move(crps);
  out["spread"] = series(s.spread);
  out["psd"] = Json{{"frequency", series(s.frequencies)},
                    {"forecast", series(s.psd_forecast)},
                    {"truth", series(s.psd_truth)}};
  return out;
}

std::string nowcast_table(const std::vector<NowcastScores>& all) {
  if (all.empty()) return "";
  const NowcastScores& first = all.front();
  const int64_t leads = first.csi.empty() ? 0 : static_cast<int64_t>(first.csi[0].size());
  // Lead times 1, a quarter, half, three quarters and the last (frames).
  std::vector<int64_t> shown;
  for (int64_t t : {int64_t{1}, leads / 4, leads / 2, 3 * leads / 4, leads}) {
    if (t >= 1 && (shown.empty() || t > shown.back())) shown.push_back(t);
  }
  size_t name_width = 10;
  for (const NowcastScores& s : all) name_width = std::max(name_width, s.name.size());
  // The title on its own line, then the lead times over the columns.
  auto header = [&](const std::string& title) {
    std::string line = title + "\n" + std::string(name_width, ' ');
    for (int64_t t : shown) absl::StrAppend(&line, absl::StrFormat("  %8s", absl::StrCat("t+", t)));
    return line + "\n";
  };
  auto row = [&](const std::string& name, const std::vector<double>& values) {
    std::string line = absl::StrFormat("%-*s", static_cast<int>(name_width), name);
    for (int64_t t : shown) absl::StrAppend(&line, absl::StrFormat("  %8.4f", values[t - 1]));
    return line + "\n";
  };
  std::string out;
  for (size_t k = 0; k < first.thresholds.size(); ++k) {
    out += header(absl::StrCat("CSI >= ", label(first.thresholds[k]), " mm/h (higher is better)"));
    for (const NowcastScores& s : all) out += row(s.name, s.csi[k]);
    out += "\n";
  }
  for (size_t k = 0; k < first.pool_scales.size(); ++k) {
    out += header(absl::StrCat("CRPS pooled ", first.pool_scales[k], "x", first.pool_scales[k],
                               " (mm/h, lower is better)"));
    for (const NowcastScores& s : all) out += row(s.name, s.crps[k]);
    out += "\n";
  }
  out += header("Ensemble spread: members' std per pixel (mm/h, 0 for one member)");
  for (const NowcastScores& s : all) out += row(s.name, s.spread);
  out += "\n";
  // PSD at wavelengths of 2, 4, 8, ... pixels.
  std::string line = "PSD forecast / truth by wavelength (1: as sharp as the truth)\n" +
                     std::string(name_width, ' ');
  const std::vector<size_t> bins = octave_bins(first.frequencies.size());
  for (size_t k : bins) {
    absl::StrAppend(
        &line, absl::StrFormat("  %8s", absl::StrCat(label(1.0 / first.frequencies[k]), "px")));
  }
  out += line + "\n";
  for (const NowcastScores& s : all) {
    std::string r = absl::StrFormat("%-*s", static_cast<int>(name_width), s.name);
    for (size_t k : bins) {
      absl::StrAppend(&r, absl::StrFormat("  %8.3f", psd_ratio(s, k)));
    }
    out += r + "\n";
  }
  return out;
}

Json nowcast_summary(const NowcastScores& s) {
  Json out = Json::object();
  for (size_t k = 0; k < s.thresholds.size(); ++k) {
    const std::string key = absl::StrCat(s.name, "_csi", label(s.thresholds[k]));
    out[key + "_last"] = number_or_null(s.csi[k].back());
    out[key + "_mean"] = number_or_null(mean_of(s.csi[k]));
  }
  for (size_t k = 0; k < s.pool_scales.size(); ++k) {
    out[absl::StrCat(s.name, "_crps", s.pool_scales[k], "_mean")] =
        number_or_null(mean_of(s.crps[k]));
  }
  out[s.name + "_spread_mean"] = number_or_null(mean_of(s.spread));
  for (size_t k : octave_bins(s.frequencies.size())) {
    out[absl::StrCat(s.name, "_psd", label(1.0 / s.frequencies[k]), "px")] =
        number_or_null(psd_ratio(s, k));
  }
  return out;
}

std::vector<NamedForecaster> baseline_forecasters() {
  return {{"persistence", persistence_forecaster()}, {"advection", advection_forecaster()}};
}

absl::StatusOr<std::vector<NowcastScores>> run_nowcast(
    const ExperimentConfig& config, const std::vector<NamedForecaster>& forecasters,
    NowcastEvalOptions options, const std::string& png_path) {
  const std::string& name = config.data.name;
  if (name != "radar_synthetic" && name != "radar_npy") {
    return absl::InvalidArgumentError(
        absl::StrCat(config.file, ": key data.name is \"", name,
                     "\"; nowcasting needs radar sequences (radar_synthetic or radar_npy)"));
  }
  absl::StatusOr<RunData> run = build_data(config);
  if (!run.ok()) return run.status();
  options.context_frames = config.data.radar.context_frames;
  std::vector<NowcastScores> scores;
  std::vector<Tensor> pictured;  // (Tl, H, W, 1) first member on the first sequence
  const data::Example first = run->eval_batches->get(0);
  const Tensor sequence = narrow(first.at(data::kFramesKey), 0, 0, 1);  // (1, T, H, W, 1)
  const int64_t leads = sequence.size(1) - options.context_frames;
  for (const NamedForecaster& f : forecasters) {
    try {
      scores.push_back(evaluate_nowcast(f, *run->eval_batches, options));
      if (!png_path.empty()) {
        const ForecastRequest request{
            .lead_frames = leads, .num_samples = options.png_members, .seed = options.seed};
        // (1, Tc, H, W, 1)
        const Tensor context = as_contiguous(narrow(sequence, 1, 0, options.context_frames));
        for (const Tensor& member : f.forecast(context, request)) {
          pictured.push_back(reshape(member, {leads, sequence.size(2), sequence.size(3), 1}));
        }
      }
    } catch (const Error& e) {
      return absl::InvalidArgumentError(absl::StrCat("forecaster ", f.name, ": ", e.what()));
    }
  }
  if (!png_path.empty()) {
    const Tensor frames =
        reshape(sequence, {sequence.size(1), sequence.size(2), sequence.size(3), 1});
    absl::Status written = write_nowcast_png(png_path, frames, options.context_frames, pictured);
    if (!written.ok()) return written;
  }
  return scores;
}

}  // namespace kiln::train
