// Linear evaluation of frozen representations (HARES, 2111.12124): the
// encoder's embeddings of each downstream task's examples are extracted once,
// then a linear softmax classifier is trained on the cached training
// features and its accuracy measured on the held-out ones.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "kiln/data/dataset.h"
#include "kiln/tensor/tensor.h"
#include "kiln/train/experiment_config.h"
#include "kiln/train/json_config.h"

namespace kiln::train {

// Features (N, D) f32 and their integer labels (N) i64.
struct Features {
  Tensor x;
  Tensor y;
};

// Applies `embed` (with grad mode off) to the `input_key` tensor of every
// batch of `batches` and gathers the embeddings with the batches' "label".
Features extract_features(const std::function<Tensor(const Tensor&)>& embed,
                          const data::Dataset& batches, const std::string& input_key);

struct LinearProbeOptions {
  double l2 = 1e-4;  // weight of 0.5 * l2 * ||W||^2 added to the mean cross-entropy
  double lr = 0.05;  // Adam, full batch
  int64_t steps = 500;
  // Standardise each feature with the training set's mean and std first.
  bool standardize = true;
};

struct LinearProbeResult {
  double train_accuracy = 0;
  double test_accuracy = 0;
  double train_loss = 0;  // the final regularised training loss
};

// L2-regularised softmax regression W (D, C), b (C) on `train`, zero
// initialised (the problem is convex: no seed), evaluated on `test`.
LinearProbeResult linear_probe(const Features& train, const Features& test, int64_t num_classes,
                               const LinearProbeOptions& options = {});

// One downstream task: its examples are the encoder config's data section
// with data.name = `data` (and data.path = `path` unless empty), unshuffled
// and unaugmented; its accuracy counts towards `domain`'s mean.
struct DownstreamTask {
  std::string domain;
  std::string name;
  std::string data;
  std::string path;
};

// "[DOMAIN:]TASK" -> the task it names: with `bench` (a directory written by
// `kiln audio-bench generate`) the manifest bench/TASK.csv, else TASK.csv
// itself if TASK ends in .csv, else the dataset named TASK. DOMAIN defaults
// to the file name up to its first '_' (speech_word: speech). Errors name
// the bad entry.
absl::StatusOr<DownstreamTask> parse_downstream_task(const std::string& item,
                                                     const std::string& bench);

struct LinearEvalOptions {
  // A checkpoint directory, a run's checkpoints/ folder or a run directory;
  // "init" for the encoder's random initialisation (the trainer's stream
  // for `config`'s seed: the random frozen encoder baseline).
  std::string weights = "init";
  bool ema = false;                   // the EMA weights instead
  std::string input_key = "image";    // the batch key the encoder reads
  std::vector<DownstreamTask> tasks;  // at least one
  LinearProbeOptions probe;
};

// Linear evaluation of `config`'s encoder (a model with an embedding:
// slowfast_nfnet) on every task: the embeddings of every example of each
// task's training and held-out splits (in batches of data.eval_batch_size),
// then linear_probe. Returns
//   {"weights", "step", "model", "probe": {...}, "tasks": [{"domain", "task",
//    "train_examples", "test_examples", "classes", "train_accuracy",
//    "test_accuracy"}...], "domains": {DOMAIN: mean test accuracy},
//    "mean_test_accuracy"}
// Errors name the config, the weights or the task.
absl::StatusOr<Json> run_linear_eval(const ExperimentConfig& config,
                                     const LinearEvalOptions& options);

}  // namespace kiln::train
