// Masked language modelling on byte windows (BERT's objective, as Perceiver
// IO's language pre-training), over the byte vocabulary of Perceiver IO
// (include/kiln/models/perceiver/bytes_tokenizer.h: byte b is id b + 6,
// MASK is 3, 262 ids).
//
// Each byte of a window is picked with probability mask_rate; a picked
// byte's input becomes MASK with probability mask_token_fraction, a
// uniformly random byte with random_token_fraction, and stays itself
// otherwise (BERT's 80 / 10 / 10 by default). The loss is the mean
// cross-entropy over the picked bytes; the metric is the masked-byte
// accuracy. Every draw is a function of (seed, step, position) only (of
// (seed, evaluation batch, position) when evaluating), so a resumed run
// masks exactly as the original and every evaluation sees the same masks.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "src/train/tasks/tasks.h"

namespace kiln::train {

struct MaskedLmOptions {
  double mask_rate = 0.15;
  double mask_token_fraction = 0.8;
  double random_token_fraction = 0.1;
  uint64_t seed = 0;
};

struct MaskedBytes {
  Tensor inputs;   // (B, T) i64 token ids, picked bytes corrupted
  Tensor targets;  // (B * T) i64: the id of every picked byte, -100 elsewhere
  int64_t picked = 0;
};

// bytes (B, T) integers in [0, 256) -> the corrupted ids and targets. The
// three draws (pick, replacement kind, random byte) come from generators
// derived from `key` alone, one per draw, so the draws of element (b, t)
// depend only on the key and the position b T + t (not on B).
MaskedBytes mask_bytes(const Tensor& bytes, const MaskedLmOptions& options, uint64_t key);

// The key of training step `step` (eval = false) or of evaluation batch
// `step` (eval = true): a pure function of (seed, eval, step).
uint64_t masking_key(uint64_t seed, int64_t step, bool eval);

// Tokens (B, T + 1) from the text data (the first T bytes are used): the
// model maps ids (B, T) to logits (B, T, V >= 262).
class MaskedLanguageModelTask final : public SingleModelTask {
 public:
  MaskedLanguageModelTask(std::shared_ptr<models::Model> model,
                          std::unique_ptr<optim::Optimizer> optimizer,
                          int64_t max_consecutive_skips, const MaskedLmOptions& options);
  TrainStepResult train_step(const data::Batch& batch, const StepContext& context) override;
  void eval_begin() override;
  void eval_batch(const data::Batch& batch) override;
  std::map<std::string, double> eval_end() override;

 private:
  struct Outcome {
    Tensor loss_sum;  // summed cross-entropy over the picked bytes (scalar)
    int64_t picked = 0;
    int64_t correct = 0;
  };
  Outcome run(const data::Batch& batch, uint64_t key);

  MaskedLmOptions options_;
  int64_t eval_index_ = 0;
  double eval_loss_sum_ = 0;
  int64_t eval_picked_ = 0;
  int64_t eval_correct_ = 0;
};

}  // namespace kiln::train
