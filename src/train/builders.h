// Builds the run's pieces from the typed config: datasets, optimizer,
// schedule and task.
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "kiln/data/dataset.h"
#include "kiln/models/model.h"
#include "kiln/optim/optimizer.h"
#include "kiln/optim/schedule.h"
#include "kiln/train/experiment_config.h"
#include "kiln/train/task.h"

namespace kiln::train {

struct RunData {
  data::DatasetPtr train_batches;  // shuffled, augmented, batched
  data::DatasetPtr eval_batches;   // held-out split, batched, in order
  std::vector<int64_t> input_shape;  // per example: (H, W, C) or (T)
  int64_t num_classes = 0;           // classes, or the vocabulary size
  int64_t train_examples = 0;
  int64_t eval_examples = 0;
};

absl::StatusOr<RunData> build_data(const ExperimentConfig& config);

// The per-example input shape and class count the data config implies,
// without loading the data (for kiln info).
struct DataSignature {
  std::vector<int64_t> input_shape;
  int64_t num_classes = 0;
  bool tokens = false;  // integer token inputs rather than images
};
DataSignature data_signature(const DataConfig& config);

// The optimizer with its parameter groups (no weight decay / no AGC rules)
// and gradient transforms (AGC, global-norm clipping).
std::unique_ptr<optim::Optimizer> build_optimizer(const OptimizerConfig& config,
                                                  const nn::NamedTensors& params);

optim::Schedule build_schedule(const ScheduleConfig& config, double base_lr, int64_t steps);

std::unique_ptr<Task> build_task(const ExperimentConfig& config,
                                 std::shared_ptr<models::Model> model,
                                 std::unique_ptr<optim::Optimizer> optimizer);

}  // namespace kiln::train
