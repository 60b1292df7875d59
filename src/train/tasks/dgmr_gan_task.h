// Adversarial training of DGMR (2104.00954): the generator against the
// spatial and temporal discriminators, with the grid-cell regulariser.
//
// Batches hold "frames" (B, M + T, H, W, 1) f32 rain rates in mm/h: M
// context frames, then T lead frames (the model's context_frames and
// lead_frames). Each step takes discriminator_steps discriminator updates
// (hinge loss on real and generated lead frames, scored as one batch of
// 2B), then one generator update on generator_samples latents per input,
// each generated sequence scored beside a real one as in the discriminator
// step: -mean(D + T scores) + lambda * grid-cell regulariser (mean of the
// samples against the truth, weighted by rain rate). Two Adam optimizers
// (the config's optimizer settings; beta1 0 in the paper) with their own
// learning rates, scaled by the schedule. gan_mode "regulariser" drops the
// discriminators (no updates, no adversarial term), "adversarial" the
// regulariser.
//
// Checkpoints: group "model" (generator and discriminators, with their
// spectral-norm vectors and batch-norm statistics, so `kiln eval` loads it
// as any model), "generator_optimizer" and "discriminator_optimizer". The
// latents, frame choices and crops of training come from the model's noise
// generator, which the trainer checkpoints.
//
// Evaluation draws generator_samples latents per input from a generator
// keyed by (seed, evaluation batch), so every evaluation sees the same
// latents and training noise is untouched; it reports the regulariser
// ("loss", unweighted by lambda), the mean absolute error of the sample
// mean ("mae") and of each lead time ("mae_lead_01", ...).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "kiln/data/radar.h"
#include "kiln/models/dgmr/dgmr.h"
#include "kiln/optim/skip_counter.h"
#include "kiln/train/experiment_config.h"
#include "kiln/train/task.h"

namespace kiln::train {

struct DgmrGanOptions {
  std::string mode = "gan";  // "gan", "regulariser", "adversarial"
  double generator_lr = 5e-5;
  double discriminator_lr = 2e-4;
  double base_lr = 0;  // the schedule's base lr; 0: the schedule is ignored
  int64_t discriminator_steps = 2;
  int64_t generator_samples = 6;
  double regulariser_weight = 20.0;
  double regulariser_min_weight = 0.0;
  uint64_t seed = 0;
};

class DgmrGanTask final : public Task {
 public:
  // The model must be a models::dgmr::Dgmr; the optimizers are built from
  // `optimizer` (its lr is replaced by the task's).
  DgmrGanTask(std::shared_ptr<models::Model> model, const OptimizerConfig& optimizer,
              const DgmrGanOptions& options);

  std::vector<std::pair<std::string, nn::Module*>> modules() override {
    return {{"model", model_.get()}};
  }
  std::vector<std::pair<std::string, optim::Optimizer*>> optimizers() override;
  TrainStepResult train_step(const data::Batch& batch, const StepContext& context) override;
  void eval_begin() override;
  void eval_batch(const data::Batch& batch) override;
  std::map<std::string, double> eval_end() override;
  std::vector<double> eval_totals() const override;
  void set_eval_totals(const std::vector<double>& totals) override;
  Json state() const override;
  absl::Status load_state(const Json& state) override;

 private:
  struct Split {
    Tensor context;  // (B, M, H, W, 1)
    Tensor truth;    // (B, T, H, W, 1)
  };
  Split split(const data::Batch& batch) const;
  // generator_samples samples per input: (S, B, T, H, W, 1), and the
  // context repeated to match, (S B, M, H, W, 1).
  std::pair<Tensor, Tensor> sample(const Tensor& context, Generator& gen);
  double discriminator_step(const Split& s, double lr, const StepContext& context, bool* applied);

  std::shared_ptr<models::dgmr::Dgmr> model_;
  DgmrGanOptions options_;
  std::unique_ptr<optim::Optimizer> generator_optimizer_, discriminator_optimizer_;
  optim::SkipCounter skips_;
  int64_t eval_index_ = 0;
  // Sums: weighted error, cells, then the absolute error per lead time.
  std::vector<double> eval_sums_;
};

}  // namespace kiln::train
