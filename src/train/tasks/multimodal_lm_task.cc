#include <cmath>

#include "kiln/autograd/grad_mode.h"
#include "kiln/data/interleaved.h"
#include "kiln/models/flamingo/flamingo.h"
#include "kiln/ops/binary.h"
#include "kiln/ops/nn.h"
#include "kiln/ops/reduce.h"
#include "kiln/ops/shape.h"
#include "kiln/ops/unary.h"
#include "src/train/tasks/tasks.h"

namespace kiln::train {

MultimodalLanguageModelTask::MultimodalLanguageModelTask(
    std::shared_ptr<models::Model> model, std::unique_ptr<optim::Optimizer> optimizer,
    int64_t max_consecutive_skips)
    : SingleModelTask(std::move(model), std::move(optimizer), max_consecutive_skips) {
  KILN_CHECK(dynamic_cast<models::Flamingo*>(model_.get()) != nullptr,
             "task multimodal_language_modeling needs a model that reads images (flamingo)");
}

std::pair<Tensor, double> MultimodalLanguageModelTask::loss(const data::Batch& batch) {
  const Tensor& tokens = batch.at(data::kTokensKey);  // (B, L + 1)
  const Tensor& images = batch.at(data::kImagesKey);  // (B, N, H, W, C)
  const Tensor& mask = batch.at(data::kLossMaskKey);  // (B, L)
  KILN_CHECK(tokens.dim() == 2 && tokens.size(1) >= 2 && mask.dim() == 2 &&
                 mask.size(1) == tokens.size(1) - 1,
             "multimodal language modelling: tokens (B, L + 1) and loss_mask (B, L) expected, got ",
             shape_str(tokens.shape()), " and ", shape_str(mask.shape()));
  const int64_t l = tokens.size(1) - 1;
  auto& flamingo = static_cast<models::Flamingo&>(*model_);
  const Tensor logits = flamingo.forward(contiguous(narrow(tokens, 1, 0, l)), images);  // (B, L, V)
  const Tensor targets = unsqueeze(contiguous(narrow(tokens, 1, 1, l)), 2);             // (B, L, 1)
  const Tensor nll = neg(squeeze(gather(log_softmax(logits, -1), 2, targets), 2));      // (B, L)
  const double count = sum(mask).item<double>();
  KILN_CHECK(count > 0, "multimodal language modelling: a batch with no caption tokens");
  return {div(sum(mul(nll, mask)), count), count};
}

TrainStepResult MultimodalLanguageModelTask::train_step(const data::Batch& batch,
                                                        const StepContext& context) {
  auto [l, tokens] = loss(batch);
  TrainStepResult result = update(l, batch.at(data::kTokensKey).size(0), context);
  result.metrics["tokens"] = tokens;
  return result;
}

void MultimodalLanguageModelTask::eval_begin() {
  eval_loss_sum_ = 0;
  eval_tokens_ = 0;
}

void MultimodalLanguageModelTask::eval_batch(const data::Batch& batch) {
  NoGradGuard no_grad;
  auto [l, tokens] = loss(batch);
  eval_loss_sum_ += l.item<double>() * tokens;
  eval_tokens_ += tokens;
}

std::vector<double> MultimodalLanguageModelTask::eval_totals() const {
  return {eval_loss_sum_, eval_tokens_};
}

void MultimodalLanguageModelTask::set_eval_totals(const std::vector<double>& totals) {
  KILN_CHECK(totals.size() == 2,
             "multimodal language modelling: expected 2 evaluation totals, got ", totals.size());
  eval_loss_sum_ = totals[0];
  eval_tokens_ = totals[1];
}

std::map<std::string, double> MultimodalLanguageModelTask::eval_end() {
  if (eval_tokens_ == 0) return {};
  const double loss = eval_loss_sum_ / eval_tokens_;
  return {{"loss", loss}, {"bits_per_byte", loss / std::log(2.0)}};
}

}  // namespace kiln::train
