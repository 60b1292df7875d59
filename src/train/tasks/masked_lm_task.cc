#include "src/train/tasks/masked_lm_task.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "kiln/autograd/grad_mode.h"
#include "kiln/models/perceiver/bytes_tokenizer.h"
#include "kiln/ops/binary.h"
#include "kiln/ops/nn.h"
#include "kiln/ops/random.h"
#include "kiln/ops/reduce.h"
#include "kiln/ops/shape.h"

namespace kiln::train {
namespace {

namespace tok = models::bytes_tokenizer;

constexpr int64_t kIgnore = -100;

uint64_t mix64(uint64_t x) {
  // splitmix64's finaliser.
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

uint64_t masking_key(uint64_t seed, int64_t step, bool eval) {
  // A stream of its own ("mlm", train or eval), apart from the loader's,
  // the model's and the other tasks' streams.
  const uint64_t stream = mix64(seed ^ (eval ? 0x6d6c6d2d6576616cULL : 0x6d6c6d2d74726e00ULL));
  return mix64(stream + static_cast<uint64_t>(step));
}

MaskedBytes mask_bytes(const Tensor& bytes, const MaskedLmOptions& o, uint64_t key) {
  KILN_CHECK(bytes.dim() == 2 && !is_floating(bytes.dtype()),
             "mask_bytes: bytes must be (B, T) integers, got ", shape_str(bytes.shape()), " ",
             dtype_name(bytes.dtype()));
  const Shape shape = bytes.shape();
  // Three draws per position from fresh generators, so element i of each
  // depends on (key, draw, i) alone.
  Generator pick_gen(mix64(key ^ 1)), kind_gen(mix64(key ^ 2)), byte_gen(mix64(key ^ 3));
  const std::vector<double> pick = to_vector(uniform(shape, 0.0, 1.0, pick_gen, DType::kF64));
  const std::vector<double> kind = to_vector(uniform(shape, 0.0, 1.0, kind_gen, DType::kF64));
  const std::vector<double> random_byte = to_vector(randint(shape, 0, 256, byte_gen));
  const std::vector<double> values = to_vector(bytes);
  std::vector<int64_t> inputs(values.size()), targets(values.size(), kIgnore);
  MaskedBytes out;
  for (size_t i = 0; i < values.size(); ++i) {
    KILN_CHECK(values[i] >= 0 && values[i] < 256, "mask_bytes: byte ", values[i],
               " is outside [0, 256)");
    const int64_t id = tok::byte_to_id(static_cast<uint8_t>(values[i]));
    inputs[i] = id;
    if (pick[i] >= o.mask_rate) continue;
    targets[i] = id;
    ++out.picked;
    if (kind[i] < o.mask_token_fraction) {
      inputs[i] = tok::kMask;
    } else if (kind[i] < o.mask_token_fraction + o.random_token_fraction) {
      inputs[i] = tok::byte_to_id(static_cast<uint8_t>(random_byte[i]));
    }
  }
  out.inputs = from_vector(inputs, shape);
  out.targets = from_vector(targets, {bytes.numel()});
  return out;
}

MaskedLanguageModelTask::MaskedLanguageModelTask(std::shared_ptr<models::Model> model,
                                                 std::unique_ptr<optim::Optimizer> optimizer,
                                                 int64_t max_consecutive_skips,
                                                 const MaskedLmOptions& options)
    : SingleModelTask(std::move(model), std::move(optimizer), max_consecutive_skips),
      options_(options) {}

MaskedLanguageModelTask::Outcome MaskedLanguageModelTask::run(const data::Batch& batch,
                                                              uint64_t key) {
  const Tensor& tokens = batch.at(data::kTokensKey);  // (B, T + 1)
  KILN_CHECK(tokens.dim() == 2 && tokens.size(1) >= 2,
             "masked language modelling: tokens must be (B, T + 1) with T >= 1, got ",
             shape_str(tokens.shape()));
  const int64_t b = tokens.size(0), t = tokens.size(1) - 1;
  const MaskedBytes masked = mask_bytes(contiguous(narrow(tokens, 1, 0, t)), options_, key);
  const Tensor logits = model_->forward(masked.inputs);  // (B, T, V)
  KILN_CHECK(logits.dim() == 3 && logits.size(0) == b && logits.size(1) == t &&
                 logits.size(2) >= tok::kVocabSize,
             "masked language modelling: the model must map ids (B, T) to logits (B, T, V >= ",
             tok::kVocabSize,
             ") over the byte vocabulary (e.g. perceiver_io with decoder mlm), got ",
             shape_str(logits.shape()));
  const Tensor flat = reshape(logits, {b * t, logits.size(2)});
  Outcome out;
  out.loss_sum =
      cross_entropy(flat, masked.targets, {.reduction = Reduction::kSum, .ignore_index = kIgnore});
  out.picked = masked.picked;
  const std::vector<double> predicted = to_vector(argmax(flat.detach(), -1));
  const std::vector<double> targets = to_vector(masked.targets);
  for (size_t i = 0; i < targets.size(); ++i) {
    if (targets[i] != kIgnore && predicted[i] == targets[i]) ++out.correct;
  }
  return out;
}

TrainStepResult MaskedLanguageModelTask::train_step(const data::Batch& batch,
                                                    const StepContext& context) {
  Outcome o = run(batch, masking_key(options_.seed, context.step, false));
  // Mean over the picked bytes (a batch with none has a zero loss).
  const Tensor loss =
      mul_scalar(o.loss_sum, 1.0 / static_cast<double>(std::max<int64_t>(o.picked, 1)));
  TrainStepResult result = update(loss, batch.at(data::kTokensKey).size(0), context);
  const double picked = static_cast<double>(o.picked);
  result.metrics["masked_bytes"] = picked;
  result.metrics["masked_accuracy"] = o.picked > 0 ? static_cast<double>(o.correct) / picked : 0.0;
  return result;
}

void MaskedLanguageModelTask::eval_begin() {
  eval_index_ = 0;
  eval_loss_sum_ = 0;
  eval_picked_ = 0;
  eval_correct_ = 0;
}

void MaskedLanguageModelTask::eval_batch(const data::Batch& batch) {
  NoGradGuard no_grad;
  const Outcome o = run(batch, masking_key(options_.seed, eval_index_++, true));
  eval_loss_sum_ += o.loss_sum.item<double>();
  eval_picked_ += o.picked;
  eval_correct_ += o.correct;
}

std::map<std::string, double> MaskedLanguageModelTask::eval_end() {
  if (eval_picked_ == 0) return {};
  const double n = static_cast<double>(eval_picked_);
  const double loss = eval_loss_sum_ / n;
  return {{"loss", loss},
          {"masked_accuracy", static_cast<double>(eval_correct_) / n},
          {"bits_per_masked_byte", loss / std::log(2.0)}};
}

}  // namespace kiln::train
