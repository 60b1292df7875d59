#include "absl/strings/str_join.h"
#include "src/train/builders.h"
#include "src/train/tasks/dgmr_gan_task.h"
#include "src/train/tasks/masked_lm_task.h"
#include "src/train/tasks/tasks.h"

namespace kiln::train {
namespace {

std::string any_of(const std::vector<std::string>& patterns) {
  return "(?:" + absl::StrJoin(patterns, "|") + ")";
}

// Parameters can be excluded from weight decay, from AGC, or from both; a
// parameter joins the first group whose rule matches, so the "both" group
// comes first (its pattern requires both matches, by lookahead).
std::vector<optim::GroupRule> group_rules(const OptimizerConfig& c) {
  std::vector<optim::GroupRule> rules;
  const bool no_wd = !c.no_weight_decay.empty();
  const bool no_agc = c.agc.clipping > 0 && !c.agc.exclude.empty();
  if (no_wd && no_agc) {
    rules.push_back({"no_weight_decay_no_agc",
                     "^(?=.*" + any_of(c.no_weight_decay) + ")(?=.*" + any_of(c.agc.exclude) + ")",
                     {.weight_decay = 0.0, .agc = false}});
  }
  if (no_agc) rules.push_back({"no_agc", any_of(c.agc.exclude), {.agc = false}});
  if (no_wd) rules.push_back({"no_weight_decay", any_of(c.no_weight_decay), {.weight_decay = 0.0}});
  return rules;
}

}  // namespace

std::unique_ptr<optim::Optimizer> build_optimizer(const OptimizerConfig& c,
                                                  const nn::NamedTensors& params) {
  // Frozen parameters (requires_grad off: Flamingo's vision encoder and LM)
  // are not the optimizer's: no state, no weight decay, not in its checkpoint.
  nn::NamedTensors trainable;
  for (const auto& [name, p] : params) {
    if (p.requires_grad()) trainable.emplace_back(name, p);
  }
  optim::ParamGroups groups(trainable, group_rules(c));
  std::unique_ptr<optim::Optimizer> optimizer;
  if (c.name == "sgd") {
    optimizer = std::make_unique<optim::Sgd>(
        std::move(groups), optim::SgdOptions{.momentum = c.momentum,
                                             .nesterov = c.nesterov && c.momentum > 0,
                                             .weight_decay = c.weight_decay});
  } else if (c.name == "adam") {
    optimizer = std::make_unique<optim::Adam>(
        std::move(groups),
        optim::AdamOptions{
            .beta1 = c.beta1, .beta2 = c.beta2, .eps = c.eps, .weight_decay = c.weight_decay});
  } else if (c.name == "adamw") {
    optimizer = std::make_unique<optim::AdamW>(
        std::move(groups),
        optim::AdamWOptions{
            .beta1 = c.beta1, .beta2 = c.beta2, .eps = c.eps, .weight_decay = c.weight_decay});
  } else {
    optimizer = std::make_unique<optim::Lamb>(
        std::move(groups),
        optim::LambOptions{
            .beta1 = c.beta1, .beta2 = c.beta2, .eps = c.eps, .weight_decay = c.weight_decay});
  }
  if (c.agc.clipping > 0) {
    optimizer->add_transform(std::make_unique<optim::AdaptiveGradClip>(
        optim::AgcOptions{.clipping = c.agc.clipping, .eps = c.agc.eps}));
  }
  if (c.clip_global_norm > 0) {
    optimizer->add_transform(std::make_unique<optim::ClipByGlobalNorm>(c.clip_global_norm));
  }
  return optimizer;
}

optim::Schedule build_schedule(const ScheduleConfig& c, double base_lr, int64_t steps) {
  if (c.name == "warmup_cosine") {
    return optim::Schedule::warmup_cosine(base_lr, static_cast<double>(c.warmup_steps), steps,
                                          c.final_lr * base_lr);
  }
  if (c.name == "warmup_linear") {
    return optim::Schedule::warmup_linear(base_lr, static_cast<double>(c.warmup_steps), steps,
                                          c.final_lr * base_lr);
  }
  if (c.name == "step") return optim::Schedule::step_decay(base_lr, c.gamma, c.boundaries);
  return optim::Schedule::constant(base_lr);
}

std::unique_ptr<Task> build_task(const ExperimentConfig& config,
                                 std::shared_ptr<models::Model> model,
                                 std::unique_ptr<optim::Optimizer> optimizer) {
  const int64_t skips = config.optimizer.max_consecutive_skips;
  if (config.task.name == "language_modeling") {
    return std::make_unique<LanguageModelTask>(std::move(model), std::move(optimizer), skips);
  }
  if (config.task.name == "multimodal_language_modeling") {
    return std::make_unique<MultimodalLanguageModelTask>(std::move(model), std::move(optimizer),
                                                         skips);
  }
  if (config.task.name == "dgmr_gan") {
    // Two optimizers of its own (generator and discriminators).
    const TaskConfig& t = config.task;
    return std::make_unique<DgmrGanTask>(
        std::move(model), config.optimizer,
        DgmrGanOptions{.mode = t.gan_mode,
                       .generator_lr = t.generator_lr,
                       .discriminator_lr = t.discriminator_lr,
                       .base_lr = config.optimizer.lr,
                       .discriminator_steps = t.discriminator_steps,
                       .generator_samples = t.generator_samples,
                       .regulariser_weight = t.regulariser_weight,
                       .regulariser_min_weight = t.regulariser_min_weight,
                       .seed = config.train.seed});
  }
  if (config.task.name == "masked_language_modeling") {
    return std::make_unique<MaskedLanguageModelTask>(
        std::move(model), std::move(optimizer), skips,
        MaskedLmOptions{.mask_rate = config.task.mask_rate,
                        .mask_token_fraction = config.task.mask_token_fraction,
                        .random_token_fraction = config.task.random_token_fraction,
                        .seed = config.train.seed});
  }
  if (config.task.name == "simclr") {
    return std::make_unique<SimClrTask>(std::move(model), std::move(optimizer), skips,
                                        SimClrOptions{.temperature = config.task.temperature});
  }
  return std::make_unique<ClassificationTask>(
      std::move(model), std::move(optimizer), skips,
      ClassificationOptions{.label_smoothing = config.task.label_smoothing,
                            .mix = {.mixup = config.task.mixup,
                                    .cutmix = config.task.cutmix,
                                    .mixup_alpha = config.task.mixup_alpha},
                            .seed = config.train.seed,
                            .input_key = config.task.input_key});
}

}  // namespace kiln::train
