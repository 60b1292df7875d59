// Evaluations of a finished run's final weights beyond its task's held-out
// metrics: what a sweep's "evaluate" section runs on every point once its
// training is done.
//   {"name": "linear_eval", "bench": "runs/audio_bench",
//    "tasks": ["speech_word", "music_pitch", ...], "l2": 1e-4, "lr": 0.05,
//    "steps": 500, "input_key": "image"}
//     HARES linear evaluation of the frozen encoder (train/linear_eval.h);
//     writes linear_eval.json into the run directory; summary keys
//     linear_<domain> (the domain's mean test accuracy), linear_mean, and
//     linear_<task> per task.
//   {"name": "nowcast", "samples": 6, "batches": 0, "seed": 0,
//    "png_members": 2}
//     The run's DGMR generator as a forecaster beside persistence and the
//     advection nowcast (train/nowcast.h); writes nowcast.json, nowcast.txt
//     (the tables) and nowcast.png into the run directory; summary keys per
//     forecaster F (dgmr, persistence, advection): F_csi<thr>_last (CSI at
//     the last lead time), F_csi<thr>_mean (over lead times), F_crps<scale>_mean,
//     F_spread_mean, F_psd<wavelength>px (forecast / truth power at
//     wavelengths 2, 4, 8, ... pixels).
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "kiln/train/experiment_config.h"
#include "kiln/train/json_config.h"
#include "kiln/train/linear_eval.h"
#include "kiln/train/nowcast.h"

namespace kiln::train {

struct RunEvaluation {
  std::string name;  // "linear_eval" or "nowcast"
  LinearEvalOptions linear_eval;
  NowcastEvalOptions nowcast;
};

// Reads an "evaluate" section; throws ConfigError naming the file and key.
RunEvaluation read_run_evaluation(ObjectReader& r);

// Runs `evaluation` on the final weights of the run in `run_dir` (trained
// from `config`), or with `trained` false on `config`'s initialisation (a
// point a sweep does not train: the random frozen encoder), writes its
// files into `run_dir` and returns the summary scalars.
absl::StatusOr<Json> evaluate_run(const RunEvaluation& evaluation, const ExperimentConfig& config,
                                  const std::string& run_dir, bool trained = true);

}  // namespace kiln::train
