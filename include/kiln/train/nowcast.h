// Precipitation nowcasting evaluation: forecasters (persistence, the
// advection nowcast, and any model plugged in through the same signature)
// run over held-out radar batches and scored by CSI, CRPS and PSD
// (train/nowcast_metrics.h).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "kiln/data/dataset.h"
#include "kiln/data/radar_motion.h"
#include "kiln/tensor/generator.h"
#include "kiln/train/experiment_config.h"
#include "kiln/train/json_config.h"

namespace kiln::train {

struct ForecastRequest {
  int64_t lead_frames = 18;
  int64_t num_samples = 1;  // ensemble members wanted
  uint64_t seed = 0;        // for sampling forecasters; differs per batch
};

// context (B, Tc, H, W, 1) f32 mm/h -> ensemble members, each
// (B, Tl, H, W, 1) f32 mm/h with Tl = request.lead_frames. A deterministic
// forecaster returns one member whatever request.num_samples is.
using Forecaster =
    std::function<std::vector<Tensor>(const Tensor& context, const ForecastRequest& request)>;

struct NamedForecaster {
  std::string name;
  Forecaster forecast;
};

// One ensemble member: context (B, Tc, H, W, 1) -> (B, Tl, H, W, 1), drawing
// its randomness (a generative model's latents) from `gen`.
using SampleFn = std::function<Tensor(const Tensor& context, int64_t lead_frames, Generator& gen)>;
// request.num_samples calls of `sample`, member s with the generator
// data::example_generator keys by (request.seed, s): the same members for
// the same request, whatever ran before (plug DGMR's generator in here).
Forecaster ensemble_forecaster(SampleFn sample);

// Every lead frame is the last context frame.
Forecaster persistence_forecaster();
// Motion estimated on each example's context frames (data::estimate_motion),
// the last frame extrapolated semi-Lagrangian (data::advect, no inflow).
Forecaster advection_forecaster(const data::MotionEstimateOptions& options = {});

struct NowcastEvalOptions {
  int64_t context_frames = 4;
  std::vector<double> thresholds = {1, 4, 8};     // mm/h, for CSI
  std::vector<int64_t> pool_scales = {1, 4, 16};  // CRPS; scales above the frame are skipped
  int64_t num_samples = 1;
  int64_t max_batches = 0;  // 0: every batch
  uint64_t seed = 0;
  int64_t png_members = 1;  // rows per sampling forecaster in run_nowcast's picture
};

struct NowcastScores {
  std::string name;
  int64_t examples = 0;
  int64_t members = 0;  // ensemble members the forecaster returned
  std::vector<double> thresholds;
  std::vector<std::vector<double>> csi;  // [threshold][lead]
  std::vector<int64_t> pool_scales;
  std::vector<std::vector<double>> crps;  // [scale][lead], mm/h
  // Sample diversity: the members' standard deviation at each pixel, mean
  // over pixels, by lead time, mm/h (0 for a single member).
  std::vector<double> spread;
  std::vector<double> frequencies;   // cycles per pixel
  std::vector<double> psd_forecast;  // mean over members, leads, examples
  std::vector<double> psd_truth;     // over the same lead frames
};

// Scores `forecaster` on `batches` ({"frames": (B, T, H, W, 1)}, T >
// context_frames; the first context_frames frames are the input, the rest
// the truth). Throws kiln::Error on bad shapes or a forecaster returning the
// wrong shape.
NowcastScores evaluate_nowcast(const NamedForecaster& forecaster, const data::Dataset& batches,
                               const NowcastEvalOptions& options);

// {"name", "examples", "members", "csi": {"1": [per lead]...}, "crps": {"1":
// [...]}, "psd": {"frequency", "forecast", "truth"}}; NaN as null.
Json nowcast_scores_json(const NowcastScores& scores);
// The scores as flat scalars for a results table, keys prefixed by the
// forecaster's name F: F_csi<mm/h>_last (at the last lead time) and
// F_csi<mm/h>_mean (over lead times), F_crps<scale>_mean, F_spread_mean,
// F_psd<wavelength>px (forecast / truth power at 2, 4, 8, ... pixels).
Json nowcast_summary(const NowcastScores& scores);
// A readable table: CSI and CRPS per forecaster at a few lead times, and
// the PSD ratio forecast / truth at a few wavelengths.
std::string nowcast_table(const std::vector<NowcastScores>& scores);

// A PNG of one sequence: the top row is the sequence (T, H, W, 1) (context
// then truth), each further row one forecast (Tl, H, W, 1) under the truth;
// rain rates coloured from white (dry) through blue, green, yellow and red
// to magenta (>= 64 mm/h).
absl::Status write_nowcast_png(const std::string& path, const Tensor& sequence,
                               int64_t context_frames, const std::vector<Tensor>& forecasts);

// Persistence and the advection nowcast, in that order.
std::vector<NamedForecaster> baseline_forecasters();

// The DGMR generator of `config` (model dgmr or dgmr_small) with the
// weights of `weights` (a run directory, its checkpoints/ folder or one
// checkpoint; "init" for the untrained generator) as an ensemble
// forecaster: each member is the generator on its own latent. The request's
// lead_frames must be the model's. Errors name the config or the weights.
absl::StatusOr<Forecaster> dgmr_forecaster(const ExperimentConfig& config,
                                           const std::string& weights);

// kiln nowcast: scores each forecaster on the held-out batches of
// `config`'s data (a radar dataset; options.context_frames is replaced by
// data.radar.context_frames), and if `png_path` is not empty draws the
// first held-out sequence with the first options.png_members members of
// each forecaster (one row each). Errors: a bad data config, a non-radar
// dataset, an unwritable picture.
absl::StatusOr<std::vector<NowcastScores>> run_nowcast(
    const ExperimentConfig& config, const std::vector<NamedForecaster>& forecasters,
    NowcastEvalOptions options, const std::string& png_path = "");

}  // namespace kiln::train
