// A trained model rebuilt from its config and checkpoint (kiln linear-eval,
// kiln nowcast, a sweep's evaluation of its points).
#include "absl/strings/str_cat.h"
#include "kiln/train/checkpoint.h"
#include "kiln/train/model_registry.h"
#include "src/train/builders.h"

namespace kiln::train {

absl::StatusOr<TrainedModel> load_trained_model(const ExperimentConfig& config,
                                                const DataSignature& signature,
                                                const std::string& weights,
                                                const std::string& group) {
  // The trainer's initialisation stream, so "init" is the run's step 0.
  Generator init_gen(config.train.seed * 2 + 1);
  absl::StatusOr<std::shared_ptr<models::Model>> model =
      build_model(config.model.name, config.model.options,
                  {.input_shape = signature.input_shape,
                   .num_classes = signature.num_classes,
                   .init_gen = &init_gen,
                   .dropout_gen = std::make_shared<Generator>(config.train.seed * 2 + 2)},
                  config.file);
  if (!model.ok()) return model.status();
  TrainedModel out{.model = *model};
  if (weights != "init") {
    absl::StatusOr<int64_t> step = load_module_weights(**model, weights, group);
    if (!step.ok()) return step.status();
    out.step = *step;
  }
  out.model->eval();
  return out;
}

}  // namespace kiln::train
