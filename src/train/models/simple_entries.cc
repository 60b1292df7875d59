#include "kiln/models/simple/convnet.h"
#include "kiln/nn/layers.h"
#include "src/train/model_entries.h"

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

std::vector<ModelEntry> simple_model_entries() {
  return {
      {"mlp_classifier", "flatten + MLP image classifier", build_mlp_classifier},
      {"convnet", "small ConvNet image classifier", build_convnet},
  };
}

}  // namespace kiln::train
