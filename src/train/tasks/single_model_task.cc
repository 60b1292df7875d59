#include "kiln/autograd/grad_mode.h"
#include "kiln/train/distributed.h"
#include "src/train/tasks/tasks.h"

namespace kiln::train {

SingleModelTask::SingleModelTask(std::shared_ptr<models::Model> model,
                                 std::unique_ptr<optim::Optimizer> optimizer,
                                 int64_t max_consecutive_skips)
    : model_(std::move(model)), optimizer_(std::move(optimizer)), skips_(max_consecutive_skips) {}

TrainStepResult SingleModelTask::update(const Tensor& loss, int64_t examples,
                                        const StepContext& context) {
  TrainStepResult result;
  result.loss = loss.item<double>();
  result.examples = examples;
  loss.backward();
  // Several ranks: the optimizer (and its non-finite check, clipping, AGC)
  // sees the gradients averaged over the ranks, the same on each.
  if (context.gradients != nullptr) context.gradients->synchronize();
  const optim::StepResult step = optimizer_->step(context.lr);
  optimizer_->zero_grad();
  result.applied = step.applied;
  result.grad_norm = step.grad_norm;
  // Throws with a clear message once too many steps in a row were skipped.
  skips_.record(step.applied, context.step);
  result.metrics["skipped_steps"] = static_cast<double>(skips_.total_skipped());
  return result;
}

Json SingleModelTask::state() const {
  return {{"consecutive_skips", skips_.consecutive()}, {"total_skips", skips_.total_skipped()}};
}

absl::Status SingleModelTask::load_state(const Json& state) {
  if (!state.contains("consecutive_skips") || !state.contains("total_skips")) {
    return absl::DataLossError("task state lacks the skip counters");
  }
  skips_.restore(state["consecutive_skips"].get<int64_t>(), state["total_skips"].get<int64_t>());
  return absl::OkStatus();
}

}  // namespace kiln::train
