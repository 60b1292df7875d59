#include "kiln/train/model_registry.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "src/train/model_entries.h"

namespace kiln::train {

const std::vector<ModelEntry>& model_registry() {
  static const auto* registry = [] {
    auto* all = new std::vector<ModelEntry>;
    // One line per model family.
    for (auto* family : {
             simple_model_entries,
             nfnet_model_entries,
             transformer_model_entries,
             perceiver_model_entries,
             flamingo_model_entries,
             slowfast_nfnet_model_entries,
             dgmr_model_entries,
         }) {
      for (ModelEntry& entry : family()) all->push_back(std::move(entry));
    }
    return all;
  }();
  return *registry;
}

absl::StatusOr<std::optional<ParameterCounts>> count_model_parameters(const std::string& name,
                                                                      const Json& options,
                                                                      const ModelContext& context,
                                                                      const std::string& file) {
  for (const ModelEntry& entry : model_registry()) {
    if (entry.name != name) continue;
    if (!entry.count) return std::nullopt;
    try {
      ObjectReader reader(options, "model", file);
      ParameterCounts counts = entry.count(reader, context);
      reader.finish();
      return counts;
    } catch (const ConfigError& e) {
      return absl::InvalidArgumentError(e.message);
    } catch (const Error& e) {
      return absl::InvalidArgumentError(absl::StrCat(file, ": model ", name, ": ", e.what()));
    }
  }
  return std::nullopt;  // build_model names the unknown model
}

absl::StatusOr<std::shared_ptr<models::Model>> build_model(const std::string& name,
                                                           const Json& options,
                                                           const ModelContext& context,
                                                           const std::string& file) {
  std::vector<std::string> names;
  for (const ModelEntry& entry : model_registry()) {
    if (entry.name != name) {
      names.push_back(entry.name);
      continue;
    }
    try {
      ObjectReader reader(options, "model", file);
      std::shared_ptr<models::Model> model = entry.build(reader, context);
      reader.finish();
      return model;
    } catch (const ConfigError& e) {
      return absl::InvalidArgumentError(e.message);
    } catch (const Error& e) {
      return absl::InvalidArgumentError(absl::StrCat(file, ": model ", name, ": ", e.what()));
    }
  }
  std::string message = absl::StrCat(file, ": key model.name has unknown value \"", name, "\"");
  if (auto guess = did_you_mean(name, names)) {
    absl::StrAppend(&message, "; did you mean \"", *guess, "\"?");
  } else {
    absl::StrAppend(&message, " (one of: ", absl::StrJoin(names, ", "), ")");
  }
  return absl::InvalidArgumentError(message);
}

}  // namespace kiln::train
