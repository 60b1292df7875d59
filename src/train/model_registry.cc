#include "kiln/train/model_registry.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "kiln/models/simple/convnet.h"
#include "kiln/nn/layers.h"

namespace kiln::train {
namespace {

void read_activation(ObjectReader& r, std::string* activation) {
  r.read("activation", activation);
  if (!nn::is_activation_name(*activation)) r.fail("activation", "is not a known activation");
}

std::shared_ptr<models::Model> build_mlp_classifier(ObjectReader& r, const ModelContext& c) {
  models::MlpClassifierOptions o;
  o.input_shape = c.input_shape;
  o.num_classes = c.num_classes;
  r.read("hidden", &o.hidden);
  read_activation(r, &o.activation);
  r.read("dropout", &o.dropout);
  r.check_range("dropout", o.dropout, 0.0, 1.0, true, false);
  return std::make_shared<models::MlpClassifier>(o, *c.init_gen, c.dropout_gen);
}

std::shared_ptr<models::Model> build_convnet(ObjectReader& r, const ModelContext& c) {
  models::ConvNetOptions o;
  o.in_channels = c.input_shape.empty() ? 1 : c.input_shape.back();
  o.num_classes = c.num_classes;
  r.read("channels", &o.channels);
  if (o.channels.empty()) r.fail("channels", "must list at least one stage");
  r.read("hidden", &o.hidden);
  r.check_range("hidden", static_cast<double>(o.hidden), 1, 1e9);
  read_activation(r, &o.activation);
  r.read("dropout", &o.dropout);
  r.check_range("dropout", o.dropout, 0.0, 1.0, true, false);
  return std::make_shared<models::ConvNet>(o, *c.init_gen, c.dropout_gen);
}

}  // namespace

const std::vector<ModelEntry>& model_registry() {
  static const auto* registry = new std::vector<ModelEntry>{
      {"mlp_classifier", "flatten + MLP image classifier", build_mlp_classifier},
      {"convnet", "small ConvNet image classifier", build_convnet},
  };
  return *registry;
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
