// The built-in tasks.
#pragma once

#include <memory>

#include "kiln/models/model.h"
#include "kiln/optim/optimizer.h"
#include "kiln/optim/skip_counter.h"
#include "kiln/train/task.h"
#include "src/train/tasks/mixup.h"

namespace kiln::train {

// Shared by tasks with one model and one optimizer: backward, update, and
// the skipped-step bookkeeping.
class SingleModelTask : public Task {
 public:
  SingleModelTask(std::shared_ptr<models::Model> model, std::unique_ptr<optim::Optimizer> optimizer,
                  int64_t max_consecutive_skips);
  std::vector<std::pair<std::string, nn::Module*>> modules() override {
    return {{"model", model_.get()}};
  }
  std::vector<std::pair<std::string, optim::Optimizer*>> optimizers() override {
    return {{"optimizer", optimizer_.get()}};
  }
  Json state() const override;
  absl::Status load_state(const Json& state) override;

 protected:
  // Backpropagates `loss` and takes the optimizer step.
  TrainStepResult update(const Tensor& loss, int64_t examples, const StepContext& context);

  std::shared_ptr<models::Model> model_;
  std::unique_ptr<optim::Optimizer> optimizer_;
  optim::SkipCounter skips_;
};

struct ClassificationOptions {
  double label_smoothing = 0.0;
  MixOptions mix;                           // MixUp / CutMix of training batches
  uint64_t seed = 0;                        // keys the mixing draws with the step (mix_generator)
  std::string input_key = data::kImageKey;  // the batch key of the model input
};

// Images (N, H, W, C) and integer labels (N): cross-entropy with label
// smoothing, optionally on MixUp / CutMix soft targets; metrics loss and
// accuracy.
class ClassificationTask final : public SingleModelTask {
 public:
  ClassificationTask(std::shared_ptr<models::Model> model,
                     std::unique_ptr<optim::Optimizer> optimizer, int64_t max_consecutive_skips,
                     const ClassificationOptions& options);
  TrainStepResult train_step(const data::Batch& batch, const StepContext& context) override;
  void eval_begin() override;
  void eval_batch(const data::Batch& batch) override;
  std::map<std::string, double> eval_end() override;
  std::vector<double> eval_totals() const override;  // loss sum, correct, count
  void set_eval_totals(const std::vector<double>& totals) override;

 private:
  ClassificationOptions options_;
  double eval_loss_sum_ = 0;
  int64_t eval_correct_ = 0;
  int64_t eval_count_ = 0;
};

// Interleaved image-text sequences (data/interleaved.h) for Flamingo:
// tokens (B, L + 1), images (B, N, H, W, C), loss_mask (B, L). Next-token
// cross-entropy averaged over the masked-in targets (caption text and
// <EOC>); metrics loss and bits per byte. The model must be a Flamingo.
class MultimodalLanguageModelTask final : public SingleModelTask {
 public:
  MultimodalLanguageModelTask(std::shared_ptr<models::Model> model,
                              std::unique_ptr<optim::Optimizer> optimizer,
                              int64_t max_consecutive_skips);
  TrainStepResult train_step(const data::Batch& batch, const StepContext& context) override;
  void eval_begin() override;
  void eval_batch(const data::Batch& batch) override;
  std::map<std::string, double> eval_end() override;
  std::vector<double> eval_totals() const override;  // loss sum, tokens
  void set_eval_totals(const std::vector<double>& totals) override;

 private:
  // Mean loss over the batch's counted targets, and their number.
  std::pair<Tensor, double> loss(const data::Batch& batch);
  double eval_loss_sum_ = 0;
  double eval_tokens_ = 0;
};

struct SimClrOptions {
  double temperature = 0.1;
};

// SimCLR pre-training (Chen et al. 2020; HARES, 2111.12124): two views
// "view1", "view2" (B, ...) of the same B examples go through the model in
// one batch of 2B (BatchNorm sees both); the model's outputs (its projection
// head) z1, z2 (B, D) give the NT-Xent loss (nt_xent). Metrics: loss and
// contrastive_accuracy, the fraction of the 2B anchors whose most similar
// other row is their positive.
class SimClrTask final : public SingleModelTask {
 public:
  SimClrTask(std::shared_ptr<models::Model> model, std::unique_ptr<optim::Optimizer> optimizer,
             int64_t max_consecutive_skips, const SimClrOptions& options);
  TrainStepResult train_step(const data::Batch& batch, const StepContext& context) override;
  void eval_begin() override;
  void eval_batch(const data::Batch& batch) override;
  std::map<std::string, double> eval_end() override;
  std::vector<double> eval_totals() const override;  // loss sum, correct, anchors
  void set_eval_totals(const std::vector<double>& totals) override;

 private:
  // The loss of a batch and the number of its anchors whose top match is
  // their positive.
  std::pair<Tensor, int64_t> loss(const data::Batch& batch);
  SimClrOptions options_;
  double eval_loss_sum_ = 0;
  int64_t eval_correct_ = 0;
  int64_t eval_count_ = 0;
};

// Tokens (B, T + 1): predict token t + 1 from tokens <= t; mean cross-entropy
// over B * T; metrics loss (nats per token) and bits per byte (for byte
// vocabularies, loss / ln 2).
class LanguageModelTask final : public SingleModelTask {
 public:
  using SingleModelTask::SingleModelTask;
  TrainStepResult train_step(const data::Batch& batch, const StepContext& context) override;
  void eval_begin() override;
  void eval_batch(const data::Batch& batch) override;
  std::map<std::string, double> eval_end() override;
  std::vector<double> eval_totals() const override;  // loss sum, tokens
  void set_eval_totals(const std::vector<double>& totals) override;

 private:
  // Mean next-token loss of a batch and the number of predicted tokens.
  std::pair<Tensor, int64_t> loss(const data::Batch& batch);
  double eval_loss_sum_ = 0;
  int64_t eval_tokens_ = 0;
};

}  // namespace kiln::train
