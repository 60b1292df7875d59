// Builds the run's pieces from the typed config: datasets, optimizer,
// schedule and task.
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "kiln/data/dataset.h"
#include "kiln/data/interleaved.h"
#include "kiln/models/model.h"
#include "kiln/optim/optimizer.h"
#include "kiln/optim/schedule.h"
#include "kiln/train/experiment_config.h"
#include "kiln/train/task.h"

namespace kiln::train {

struct RunData {
  // Shuffled, augmented, batched; in a data-parallel run, batch i is this
  // rank's contiguous share (batch_size / world_size examples) of global
  // batch i, and the ranks' shares in rank order make up the global batch.
  data::DatasetPtr train_batches;
  data::DatasetPtr eval_batches;     // held-out split, batched, in order
  std::vector<int64_t> input_shape;  // per example: (H, W, C) or (T)
  int64_t num_classes = 0;           // classes, or the vocabulary size
  int64_t train_examples = 0;
  int64_t eval_examples = 0;
};

// The share of every global batch a rank loads in a data-parallel run.
struct DataShard {
  int rank = 0;
  int world_size = 1;
};

// An error if data.batch_size does not divide by shard.world_size.
absl::StatusOr<RunData> build_data(const ExperimentConfig& config, const DataShard& shard = {});

// The examples of one split (train or held out), unshuffled and unbatched:
// what kiln radar-export writes.
absl::StatusOr<data::DatasetPtr> build_split(const ExperimentConfig& config, bool train);
// Both splits, loaded once.
struct TrainEvalSplits {
  data::DatasetPtr train, eval;
};
absl::StatusOr<TrainEvalSplits> build_splits(const ExperimentConfig& config);

// The per-example input shape and class count the data config implies,
// without loading the data (for kiln info).
struct DataSignature {
  std::vector<int64_t> input_shape;
  int64_t num_classes = 0;
  bool tokens = false;  // integer token inputs rather than images
};
DataSignature data_signature(const DataConfig& config);

// The train and test splits of data.name audio_manifest / audio_views
// (build_audio_data.cc): examples, per-example input shape ((F, n_mels, 1)
// log-mel or (T) waveform) and class count (0 for views).
struct AudioSplits {
  data::DatasetPtr train, eval;
  std::vector<int64_t> input_shape;
  int64_t num_classes = 0;
};
absl::StatusOr<AudioSplits> load_audio_splits(const ExperimentConfig& config);
// An audio dataset's input shape and class count (from its manifest, if
// readable), without loading the audio.
DataSignature audio_data_signature(const DataConfig& data);

// The token format and image normalisation of data fashion_mnist_captions
// (shared with kiln fewshot), and its Fashion-MNIST directory.
data::InterleavedOptions fashion_mnist_captions_format(const DataConfig& data);
std::string fashion_mnist_dir(const DataConfig& data);

// The optimizer with its parameter groups (no weight decay / no AGC rules)
// and gradient transforms (AGC, global-norm clipping), over the parameters
// that require gradients (frozen ones are left out).
std::unique_ptr<optim::Optimizer> build_optimizer(const OptimizerConfig& config,
                                                  const nn::NamedTensors& params);

optim::Schedule build_schedule(const ScheduleConfig& config, double base_lr, int64_t steps);

// `config`'s model as the trainer builds it (the initialisation stream of
// train.seed), for inputs of `signature`, then, unless `weights` is "init",
// the weights of `group` ("model", "ema_model") from `weights`: a
// checkpoint, a run's checkpoints/ folder or a run directory. In eval mode;
// `step` is the checkpoint's (0 for "init"). Errors name the config or the
// weights.
struct TrainedModel {
  std::shared_ptr<models::Model> model;
  int64_t step = 0;
};
absl::StatusOr<TrainedModel> load_trained_model(const ExperimentConfig& config,
                                                const DataSignature& signature,
                                                const std::string& weights,
                                                const std::string& group = "model");

std::unique_ptr<Task> build_task(const ExperimentConfig& config,
                                 std::shared_ptr<models::Model> model,
                                 std::unique_ptr<optim::Optimizer> optimizer);

}  // namespace kiln::train
