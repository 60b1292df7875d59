// The model registry: maps a config's "model": {"name": ...} to a factory.
// Every model family registers in one explicit table (model_registry.cc);
// its entry parses the family's typed options from the config and builds
// the model.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "kiln/models/model.h"
#include "kiln/tensor/generator.h"
#include "kiln/train/json_config.h"

namespace kiln::train {

// What a model may need from the rest of the config.
struct ModelContext {
  std::vector<int64_t> input_shape;        // per example: (H, W, C) or (T)
  int64_t num_classes = 0;                 // classification: classes; LM: vocabulary
  Generator* init_gen = nullptr;           // parameter initialisation
  std::shared_ptr<Generator> dropout_gen;  // dropout and other training noise
};

// Parameter counts by part, in order ("vision", "lm", ...).
using ParameterCounts = std::vector<std::pair<std::string, int64_t>>;

struct ModelEntry {
  std::string name;
  std::string description;
  // Reads the options from `options` (every key must be read; the caller
  // calls finish()) and builds the model.
  std::function<std::shared_ptr<models::Model>(ObjectReader& options, const ModelContext& context)>
      build;
  // Optional: the same options, counted without building (for models too
  // large to allocate).
  std::function<ParameterCounts(ObjectReader& options, const ModelContext& context)> count;
};

const std::vector<ModelEntry>& model_registry();

// Builds the model named `name` from its config section (without "name");
// errors name `file` and the key path.
absl::StatusOr<std::shared_ptr<models::Model>> build_model(const std::string& name,
                                                           const Json& options,
                                                           const ModelContext& context,
                                                           const std::string& file);

// The parameter counts of model `name` without building it, or nullopt when
// its family cannot count without building.
absl::StatusOr<std::optional<ParameterCounts>> count_model_parameters(const std::string& name,
                                                                      const Json& options,
                                                                      const ModelContext& context,
                                                                      const std::string& file);

}  // namespace kiln::train
