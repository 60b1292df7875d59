// Training tasks. A task owns its models, optimizers, losses and metrics and
// performs one training step; the trainer owns the loop, evaluation cadence,
// checkpoints, logs and the progress bar, and knows nothing of any model
// family. Supervised classification and language modelling are built in;
// masked language modelling, contrastive pre-training and adversarial
// training (two models, two optimizers, several discriminator steps per
// generator step inside one train_step) fit the same interface.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "kiln/data/dataset.h"
#include "kiln/nn/module.h"
#include "kiln/optim/optimizer.h"
#include "kiln/train/json_config.h"

namespace kiln::train {

class GradientSync;  // kiln/train/distributed.h

struct StepContext {
  int64_t step = 0;  // the step being taken, counting from 1
  double lr = 0;     // the schedule's learning rate for this step
  // Data-parallel runs (several ranks): averages the gradients across ranks.
  // A task calls gradients->synchronize() after each backward pass and
  // before the optimizer step that uses it. Null in one process.
  GradientSync* gradients = nullptr;
};

struct TrainStepResult {
  double loss = 0;
  int64_t examples = 0;
  bool applied = true;  // false if a non-finite gradient skipped the update
  double grad_norm = 0;
  std::map<std::string, double> metrics;  // extra per-step metrics to log
};

class Task {
 public:
  virtual ~Task() = default;

  // Modules whose weights are checkpointed, by name ("model", or
  // "generator" and "discriminator", ...).
  virtual std::vector<std::pair<std::string, nn::Module*>> modules() = 0;
  // Optimizers whose state is checkpointed, by name.
  virtual std::vector<std::pair<std::string, optim::Optimizer*>> optimizers() = 0;

  // Forward, loss, backward and update(s) on one batch.
  virtual TrainStepResult train_step(const data::Batch& batch, const StepContext& context) = 0;

  // Evaluation on held-out batches: accumulate, then report metrics
  // ("loss", "accuracy", "bits_per_byte", ...). Modules are in eval mode.
  virtual void eval_begin() = 0;
  virtual void eval_batch(const data::Batch& batch) = 0;
  virtual std::map<std::string, double> eval_end() = 0;

  // Data-parallel evaluation: each rank evaluates a share of the held-out
  // batches; the trainer adds up every rank's eval_totals() (the sums
  // eval_batch accumulated: loss sum, correct, count, ...) and hands the
  // totals to set_eval_totals() before eval_end(), which then reports the
  // metrics of the whole held-out set. A task returning no totals (the
  // default) has every rank evaluate every batch instead.
  virtual std::vector<double> eval_totals() const { return {}; }
  virtual void set_eval_totals(const std::vector<double>& /*totals*/) {}

  // Anything else a resumed run needs (counters), as JSON.
  virtual Json state() const { return Json::object(); }
  virtual absl::Status load_state(const Json& /*state*/) { return absl::OkStatus(); }
};

}  // namespace kiln::train
