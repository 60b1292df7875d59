#include <cmath>

#include "kiln/autograd/grad_mode.h"
#include "kiln/ops/binary.h"
#include "kiln/ops/cast.h"
#include "kiln/ops/nn.h"
#include "kiln/ops/reduce.h"
#include "kiln/ops/shape.h"
#include "src/train/tasks/tasks.h"

namespace kiln::train {
SimClrTask::SimClrTask(std::shared_ptr<models::Model> model,
                       std::unique_ptr<optim::Optimizer> optimizer, int64_t max_consecutive_skips,
                       const SimClrOptions& options)
    : SingleModelTask(std::move(model), std::move(optimizer), max_consecutive_skips),
      options_(options) {}

std::pair<Tensor, int64_t> SimClrTask::loss(const data::Batch& batch) {
  const Tensor& view1 = batch.at("view1");  // (B, ...)
  const Tensor& view2 = batch.at("view2");  // (B, ...)
  KILN_CHECK(view1.shape() == view2.shape(), "simclr: view1 ", shape_str(view1.shape()),
             " and view2 ", shape_str(view2.shape()), " differ in shape");
  const int64_t b = view1.size(0);
  // One forward over both views: BatchNorm statistics span all 2B examples.
  const Tensor z = model_->forward(concat({view1, view2}, 0));  // (2B, D)
  KILN_CHECK(z.dim() == 2 && z.size(0) == 2 * b,
             "simclr: the model must map (2B, ...) to (2B, D), got ", shape_str(z.shape()));
  Tensor logits;  // (2B, 2B)
  Tensor loss = nt_xent(narrow(z, 0, 0, b), narrow(z, 0, b, b), options_.temperature, &logits);
  NoGradGuard no_grad;
  // Anchor i's positive is column (i + B) mod 2B.
  std::vector<int64_t> positives(static_cast<size_t>(2 * b));
  for (int64_t i = 0; i < 2 * b; ++i) positives[static_cast<size_t>(i)] = (i + b) % (2 * b);
  const Tensor hits = eq(argmax(logits, -1), from_vector(positives, {2 * b}));
  const auto correct =
      static_cast<int64_t>(std::llround(sum(to_dtype(hits, DType::kF64)).item<double>()));
  return {loss, correct};
}

TrainStepResult SimClrTask::train_step(const data::Batch& batch, const StepContext& context) {
  auto [loss_value, correct] = loss(batch);
  const int64_t anchors = 2 * batch.at("view1").size(0);
  TrainStepResult result = update(loss_value, anchors / 2, context);
  result.metrics["contrastive_accuracy"] =
      static_cast<double>(correct) / static_cast<double>(anchors);
  return result;
}

void SimClrTask::eval_begin() {
  eval_loss_sum_ = 0;
  eval_correct_ = 0;
  eval_count_ = 0;
}

void SimClrTask::eval_batch(const data::Batch& batch) {
  NoGradGuard no_grad;
  auto [loss_value, correct] = loss(batch);
  const int64_t anchors = 2 * batch.at("view1").size(0);
  // The loss is a mean over the batch's anchors (negatives are in-batch, so
  // it depends on the eval batch size).
  eval_loss_sum_ += loss_value.item<double>() * static_cast<double>(anchors);
  eval_correct_ += correct;
  eval_count_ += anchors;
}

std::vector<double> SimClrTask::eval_totals() const {
  return {eval_loss_sum_, static_cast<double>(eval_correct_), static_cast<double>(eval_count_)};
}

void SimClrTask::set_eval_totals(const std::vector<double>& totals) {
  KILN_CHECK(totals.size() == 3, "simclr: expected 3 evaluation totals, got ", totals.size());
  eval_loss_sum_ = totals[0];
  eval_correct_ = static_cast<int64_t>(std::llround(totals[1]));
  eval_count_ = static_cast<int64_t>(std::llround(totals[2]));
}

std::map<std::string, double> SimClrTask::eval_end() {
  if (eval_count_ == 0) return {};
  const double n = static_cast<double>(eval_count_);
  return {{"loss", eval_loss_sum_ / n},
          {"contrastive_accuracy", static_cast<double>(eval_correct_) / n}};
}

}  // namespace kiln::train
