#include <cmath>

#include "kiln/autograd/grad_mode.h"
#include "kiln/ops/binary.h"
#include "kiln/ops/nn.h"
#include "kiln/ops/shape.h"
#include "src/train/tasks/tasks.h"

namespace kiln::train {

std::pair<Tensor, int64_t> LanguageModelTask::loss(const data::Batch& batch) {
  const Tensor& tokens = batch.at(data::kTokensKey);  // (B, T + 1)
  KILN_CHECK(tokens.dim() == 2 && tokens.size(1) >= 2,
             "language modelling: tokens must be (B, T + 1) with T >= 1, got ",
             shape_str(tokens.shape()));
  const int64_t b = tokens.size(0), t = tokens.size(1) - 1;
  Tensor inputs = contiguous(narrow(tokens, 1, 0, t));
  Tensor targets = reshape(contiguous(narrow(tokens, 1, 1, t)), {b * t});
  Tensor logits = model_->forward(inputs);  // (B, T, V)
  Tensor flat = reshape(logits, {b * t, logits.size(-1)});
  return {cross_entropy(flat, targets), b * t};
}

TrainStepResult LanguageModelTask::train_step(const data::Batch& batch,
                                              const StepContext& context) {
  auto [l, tokens] = loss(batch);
  // A model's auxiliary loss (a mixture of experts' balancing terms) trains
  // with the next-token loss; the logged "loss" stays the next-token loss.
  const Tensor aux = model_->aux_loss();
  TrainStepResult result =
      update(aux.defined() ? add(l, aux) : l, batch.at(data::kTokensKey).size(0), context);
  if (aux.defined()) {
    result.loss = l.item<double>();
    result.metrics["aux_loss"] = aux.item<double>();
  }
  for (const auto& [name, value] : model_->metrics()) result.metrics[name] = value;
  result.metrics["tokens"] = static_cast<double>(tokens);
  return result;
}

void LanguageModelTask::eval_begin() {
  eval_loss_sum_ = 0;
  eval_tokens_ = 0;
}

void LanguageModelTask::eval_batch(const data::Batch& batch) {
  NoGradGuard no_grad;
  auto [l, tokens] = loss(batch);
  eval_loss_sum_ += l.item<double>() * static_cast<double>(tokens);
  eval_tokens_ += tokens;
}

std::vector<double> LanguageModelTask::eval_totals() const {
  return {eval_loss_sum_, static_cast<double>(eval_tokens_)};
}

void LanguageModelTask::set_eval_totals(const std::vector<double>& totals) {
  KILN_CHECK(totals.size() == 2, "language modelling: expected 2 evaluation totals, got ",
             totals.size());
  eval_loss_sum_ = totals[0];
  eval_tokens_ = static_cast<int64_t>(std::llround(totals[1]));
}

std::map<std::string, double> LanguageModelTask::eval_end() {
  if (eval_tokens_ == 0) return {};
  const double loss = eval_loss_sum_ / static_cast<double>(eval_tokens_);
  return {{"loss", loss}, {"bits_per_byte", loss / std::log(2.0)}};
}

}  // namespace kiln::train
