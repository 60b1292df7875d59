#include <cmath>

#include "kiln/autograd/grad_mode.h"
#include "kiln/ops/binary.h"
#include "kiln/ops/cast.h"
#include "kiln/ops/nn.h"
#include "kiln/ops/reduce.h"
#include "src/train/tasks/tasks.h"

namespace kiln::train {

ClassificationTask::ClassificationTask(std::shared_ptr<models::Model> model,
                                       std::unique_ptr<optim::Optimizer> optimizer,
                                       int64_t max_consecutive_skips,
                                       const ClassificationOptions& options)
    : SingleModelTask(std::move(model), std::move(optimizer), max_consecutive_skips),
      options_(options) {}

TrainStepResult ClassificationTask::train_step(const data::Batch& batch,
                                               const StepContext& context) {
  const Tensor& images = batch.at(options_.input_key);
  const Tensor& labels = batch.at(data::kLabelKey);
  const CrossEntropyOptions loss_options{.label_smoothing = options_.label_smoothing};
  if (!options_.mix.enabled()) {
    Tensor logits = model_->forward(images);
    return update(cross_entropy(logits, labels, loss_options), images.size(0), context);
  }
  // Draws keyed by (seed, step): a resumed run mixes exactly as the original.
  Generator gen = mix_generator(options_.seed, context.step);
  const MixedBatch mixed = mix_batch(images, labels, options_.mix, gen);
  Tensor logits = model_->forward(mixed.images);
  // Label smoothing applies to the mixed targets, as the official code.
  Tensor loss = cross_entropy(logits, mixed.targets(logits.size(-1)), loss_options);
  return update(loss, images.size(0), context);
}

void ClassificationTask::eval_begin() {
  eval_loss_sum_ = 0;
  eval_correct_ = 0;
  eval_count_ = 0;
}

void ClassificationTask::eval_batch(const data::Batch& batch) {
  NoGradGuard no_grad;
  const Tensor& labels = batch.at(data::kLabelKey);
  Tensor logits = model_->forward(batch.at(options_.input_key));
  // The held-out loss is the plain cross-entropy (no smoothing).
  eval_loss_sum_ += cross_entropy(logits, labels, {.reduction = Reduction::kSum}).item<double>();
  Tensor hits = eq(argmax(logits, -1), to_dtype(labels, DType::kI64));
  eval_correct_ += static_cast<int64_t>(sum(to_dtype(hits, DType::kF64)).item<double>());
  eval_count_ += labels.size(0);
}

std::vector<double> ClassificationTask::eval_totals() const {
  return {eval_loss_sum_, static_cast<double>(eval_correct_), static_cast<double>(eval_count_)};
}

void ClassificationTask::set_eval_totals(const std::vector<double>& totals) {
  KILN_CHECK(totals.size() == 3, "classification: expected 3 evaluation totals, got ",
             totals.size());
  eval_loss_sum_ = totals[0];
  eval_correct_ = static_cast<int64_t>(std::llround(totals[1]));
  eval_count_ = static_cast<int64_t>(std::llround(totals[2]));
}

std::map<std::string, double> ClassificationTask::eval_end() {
  if (eval_count_ == 0) return {};
  const double n = static_cast<double>(eval_count_);
  return {{"loss", eval_loss_sum_ / n}, {"accuracy", static_cast<double>(eval_correct_) / n}};
}

}  // namespace kiln::train
