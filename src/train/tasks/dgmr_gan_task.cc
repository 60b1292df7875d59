#include "src/train/tasks/dgmr_gan_task.h"

#include "absl/strings/str_format.h"
#include "kiln/autograd/grad_mode.h"
#include "kiln/ops/binary.h"
#include "kiln/ops/reduce.h"
#include "kiln/ops/shape.h"
#include "kiln/ops/unary.h"
#include "kiln/train/distributed.h"
#include "src/train/builders.h"

namespace kiln::train {
namespace {

using models::dgmr::grid_cell_regulariser;
using models::dgmr::hinge_discriminator_loss;
using models::dgmr::hinge_generator_loss;

uint64_t mix64(uint64_t x) {
  // splitmix64's finaliser.
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

std::unique_ptr<optim::Optimizer> adam_for(const nn::Module& module, OptimizerConfig config) {
  return build_optimizer(config, module.named_parameters());
}

// n copies of x along dim 0: (B, ...) -> (n B, ...), copy-major.
Tensor repeat_batch(const Tensor& x, int64_t n) { return concat(TensorList(n, x), 0); }

}  // namespace

DgmrGanTask::DgmrGanTask(std::shared_ptr<models::Model> model, const OptimizerConfig& optimizer,
                         const DgmrGanOptions& options)
    : model_(std::dynamic_pointer_cast<models::dgmr::Dgmr>(model)),
      options_(options),
      skips_(optimizer.max_consecutive_skips) {
  KILN_CHECK(model_ != nullptr, "task dgmr_gan needs a DGMR model (model.name dgmr or dgmr_small)");
  KILN_CHECK(
      options.mode == "gan" || options.mode == "regulariser" || options.mode == "adversarial",
      "task dgmr_gan: unknown gan_mode '", options.mode, "'");
  generator_optimizer_ = adam_for(model_->generator(), optimizer);
  discriminator_optimizer_ = adam_for(model_->discriminator(), optimizer);
  // Regulariser only: the discriminators are neither trained nor used.
  if (options.mode == "regulariser") model_->discriminator().set_requires_grad(false);
}

std::vector<std::pair<std::string, optim::Optimizer*>> DgmrGanTask::optimizers() {
  return {{"generator_optimizer", generator_optimizer_.get()},
          {"discriminator_optimizer", discriminator_optimizer_.get()}};
}

DgmrGanTask::Split DgmrGanTask::split(const data::Batch& batch) const {
  const Tensor& frames = batch.at(data::kFramesKey);  // (B, M + T, H, W, 1)
  const int64_t m = model_->options().context_frames, t = model_->options().lead_frames;
  KILN_CHECK(frames.dim() == 5 && frames.size(1) == m + t && frames.size(4) == 1,
             "task dgmr_gan: frames must be (B, ", m, " + ", t, ", H, W, 1), got ",
             shape_str(frames.shape()));
  return {contiguous(narrow(frames, 1, 0, m)), contiguous(narrow(frames, 1, m, t))};
}

std::pair<Tensor, Tensor> DgmrGanTask::sample(const Tensor& context, Generator& gen) {
  const int64_t s = options_.generator_samples, b = context.size(0);
  const Tensor repeated = repeat_batch(context, s);  // (S B, M, H, W, 1)
  const Tensor z = model_->generator().sample_latent(s * b, context.size(2), context.size(3), gen);
  const Tensor lead = model_->generator().forward(repeated, z);  // (S B, T, H, W, 1)
  Shape shape = lead.shape();
  shape[0] = b;
  shape.insert(shape.begin(), s);
  return {reshape(lead, shape), repeated};
}

double DgmrGanTask::discriminator_step(const Split& s, double lr, const StepContext& context,
                                       bool* applied) {
  Tensor fake;
  {
    NoGradGuard no_grad;
    const Tensor z = model_->generator().sample_latent(s.context.size(0), s.context.size(2),
                                                       s.context.size(3), model_->noise());
    fake = model_->generator().forward(s.context, z);  // (B, T, H, W, 1)
  }
  // Real and generated scored as one batch (the heads' batch norm sees both).
  const int64_t b = s.context.size(0);
  const Tensor scores = model_->discriminator().forward(
      repeat_batch(s.context, 2), concat({s.truth, fake}, 0), model_->noise());  // (2B)
  const Tensor loss = hinge_discriminator_loss(narrow(scores, 0, 0, b), narrow(scores, 0, b, b));
  loss.backward();
  if (context.gradients != nullptr) context.gradients->synchronize();
  *applied = discriminator_optimizer_->step(lr).applied && *applied;
  model_->zero_grad();
  return loss.item<double>();
}

TrainStepResult DgmrGanTask::train_step(const data::Batch& batch, const StepContext& context) {
  const Split s = split(batch);
  const double scale = options_.base_lr > 0 ? context.lr / options_.base_lr : 1.0;
  const bool adversarial = options_.mode != "regulariser";
  const bool regularised = options_.mode != "adversarial";
  TrainStepResult result;
  result.examples = s.context.size(0);
  bool applied = true;
  model_->zero_grad();
  if (adversarial) {
    double d_loss = 0;
    for (int64_t i = 0; i < options_.discriminator_steps; ++i) {
      d_loss += discriminator_step(s, options_.discriminator_lr * scale, context, &applied);
    }
    result.metrics["discriminator_loss"] =
        d_loss / static_cast<double>(options_.discriminator_steps);
  }
  // The generator step: every sample scored, the regulariser on their mean.
  const auto [samples, repeated] = sample(s.context, model_->noise());  // (S, B, T, H, W, 1)
  Tensor loss = zeros({});
  if (adversarial) {
    const Tensor flat =
        reshape(samples, {-1, samples.size(2), samples.size(3), samples.size(4), 1});
    // Scored beside as many real sequences, as in the discriminator step
    // (and the reference implementation), so the heads' batch norm sees the
    // same mix of real and generated.
    const int64_t n = flat.size(0);
    const Tensor scores = model_->discriminator().forward(
        repeat_batch(repeated, 2),
        concat({repeat_batch(s.truth, options_.generator_samples), flat}, 0),
        model_->noise());  // (2 S B)
    const Tensor adv = hinge_generator_loss(narrow(scores, 0, n, n));
    result.metrics["generator_adversarial"] = adv.item<double>();
    loss = add(loss, adv);
  }
  if (regularised) {
    const Tensor reg = grid_cell_regulariser(samples, s.truth, options_.regulariser_min_weight);
    result.metrics["grid_cell"] = reg.item<double>();
    loss = add(loss, mul_scalar(reg, options_.regulariser_weight));
  }
  result.loss = loss.item<double>();
  loss.backward();
  if (context.gradients != nullptr) context.gradients->synchronize();
  const optim::StepResult g = generator_optimizer_->step(options_.generator_lr * scale);
  model_->zero_grad();
  result.grad_norm = g.grad_norm;
  result.applied = g.applied && applied;
  skips_.record(result.applied, context.step);
  result.metrics["skipped_steps"] = static_cast<double>(skips_.total_skipped());
  return result;
}

void DgmrGanTask::eval_begin() {
  eval_index_ = 0;
  eval_sums_.assign(static_cast<size_t>(2 + model_->options().lead_frames), 0.0);
}

void DgmrGanTask::eval_batch(const data::Batch& batch) {
  NoGradGuard no_grad;
  const Split s = split(batch);
  // Latents keyed by (seed, evaluation batch), apart from the training noise.
  Generator gen(mix64(mix64(options_.seed ^ 0x64676d722d657661ULL) + eval_index_++));
  const Tensor samples = sample(s.context, gen).first;         // (S, B, T, H, W, 1)
  const Tensor error = abs(sub(mean(samples, {0}), s.truth));  // (B, T, H, W, 1)
  const Tensor weighted =
      mul(error, models::dgmr::rain_weight(s.truth, options_.regulariser_min_weight));
  eval_sums_[0] += sum(weighted).item<double>();
  eval_sums_[1] += static_cast<double>(error.numel());
  const std::vector<double> per_lead = to_vector(sum(error, {0, 2, 3, 4}));  // (T)
  for (size_t t = 0; t < per_lead.size(); ++t) eval_sums_[2 + t] += per_lead[t];
}

std::map<std::string, double> DgmrGanTask::eval_end() {
  if (eval_sums_.size() < 2 || eval_sums_[1] == 0) return {};
  const double cells = eval_sums_[1];
  const double lead = static_cast<double>(eval_sums_.size() - 2);
  std::map<std::string, double> out = {{"loss", eval_sums_[0] / cells}};
  double total = 0;
  for (size_t t = 2; t < eval_sums_.size(); ++t) {
    out[absl::StrFormat("mae_lead_%02d", t - 1)] = eval_sums_[t] / (cells / lead);
    total += eval_sums_[t];
  }
  out["mae"] = total / cells;
  return out;
}

std::vector<double> DgmrGanTask::eval_totals() const { return eval_sums_; }

void DgmrGanTask::set_eval_totals(const std::vector<double>& totals) { eval_sums_ = totals; }

Json DgmrGanTask::state() const {
  return {{"consecutive_skips", skips_.consecutive()}, {"total_skips", skips_.total_skipped()}};
}

absl::Status DgmrGanTask::load_state(const Json& state) {
  if (!state.contains("consecutive_skips") || !state.contains("total_skips")) {
    return absl::DataLossError("task state lacks the skip counters");
  }
  skips_.restore(state["consecutive_skips"].get<int64_t>(), state["total_skips"].get<int64_t>());
  return absl::OkStatus();
}

}  // namespace kiln::train
