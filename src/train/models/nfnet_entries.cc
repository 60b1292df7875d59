// Config parsing for the NFNet family: "nfnet" (NFNet-F0..F7, F0+..F7+) and
// "nf_resnet" (NF-ResNet-50..600). A "variant" key picks the published
// architecture; every other key overrides one of its options.
#include "kiln/models/nfnet/nf_resnet.h"
#include "kiln/models/nfnet/nfnet.h"
#include "src/train/model_entries.h"

namespace kiln::train {
namespace {

void read_nf_activation(ObjectReader& r, std::string* activation) {
  r.read("activation", activation);
  if (!models::is_nf_activation_name(*activation)) {
    r.fail("activation",
           "is not an activation with a known gamma (relu, gelu, silu, leaky_relu, "
           "tanh, sigmoid, softplus, identity)");
  }
}

void read_rate(ObjectReader& r, const std::string& key, double* value) {
  r.read(key, value);
  r.check_range(key, *value, 0.0, 1.0, true, false);
}

void read_positive(ObjectReader& r, const std::string& key, double* value) {
  r.read(key, value);
  r.check_range(key, *value, 0.0, 1e6, false, true);
}

void read_positive_list(ObjectReader& r, const std::string& key, std::vector<int64_t>* values) {
  r.read(key, values);
  if (values->empty()) r.fail(key, "must not be empty");
  for (int64_t v : *values) {
    if (v <= 0) r.fail(key, "entries must be positive");
  }
}

// model.input_shape and model.num_classes override what the data implies
// (kiln info on a preset, or a model built for another dataset).
void read_io(ObjectReader& r, const ModelContext& c, int64_t* in_channels, int64_t* num_classes) {
  std::vector<int64_t> input_shape = c.input_shape;
  if (r.has("input_shape")) {
    r.read("input_shape", &input_shape);
    if (input_shape.size() != 3) r.fail("input_shape", "must be [height, width, channels]");
  }
  if (input_shape.size() != 3 || input_shape[2] <= 0) {
    r.fail("input_shape", "images of shape [height, width, channels] are needed");
  }
  *in_channels = input_shape[2];
  *num_classes = c.num_classes;
  r.read("num_classes", num_classes);
  r.check_range("num_classes", static_cast<double>(*num_classes), 1, 1e9);
}

}  // namespace

models::NFNetOptions read_nfnet_options(ObjectReader& r, const ModelContext& c,
                                        const models::NFNetOptions& base) {
  models::NFNetOptions o = base;
  if (r.has("variant")) {
    std::string variant;
    r.read("variant", &variant);
    r.check_one_of("variant", variant, models::nfnet_variant_names());
    o = models::nfnet_variant(variant);
  }
  read_io(r, c, &o.in_channels, &o.num_classes);
  if (r.has("widths")) {
    read_positive_list(r, "widths", &o.widths);
    o.stem_channels.back() = std::max<int64_t>(1, o.widths[0] / 2);  // the official stem
  }
  read_positive_list(r, "depths", &o.depths);
  read_positive_list(r, "strides", &o.strides);
  read_positive_list(r, "stem_channels", &o.stem_channels);
  read_positive_list(r, "stem_strides", &o.stem_strides);
  if (o.stem_channels.size() != o.stem_strides.size()) {
    r.fail("stem_strides", "must have one entry per stem conv (stem_channels)");
  }
  if (o.depths.size() != o.widths.size() || o.strides.size() != o.widths.size()) {
    r.fail("depths", "widths, depths and strides must have one entry per stage");
  }
  read_positive(r, "expansion", &o.expansion);
  r.read("group_width", &o.group_width);
  r.check_range("group_width", static_cast<double>(o.group_width), 0, 1e9);
  r.read("se_ratio", &o.se_ratio);
  r.check_range("se_ratio", o.se_ratio, 0.0, 1e3);
  r.read("alpha", &o.alpha);
  r.check_range("alpha", o.alpha, 0.0, 1e3);
  read_rate(r, "stochdepth_rate", &o.stochdepth_rate);
  read_rate(r, "dropout", &o.dropout);
  read_nf_activation(r, &o.activation);
  read_positive(r, "final_conv_mult", &o.final_conv_mult);
  r.read("use_two_convs", &o.use_two_convs);
  r.read("weight_standardization", &o.weight_standardization);
  read_positive(r, "width_multiplier", &o.width_multiplier);
  read_positive(r, "depth_multiplier", &o.depth_multiplier);
  return o;
}

namespace {

std::shared_ptr<models::Model> build_nfnet(ObjectReader& r, const ModelContext& c) {
  const models::NFNetOptions o = read_nfnet_options(r, c, models::nfnet_variant("F0"));
  return std::make_shared<models::NFNet>(o, *c.init_gen, c.dropout_gen);
}

std::shared_ptr<models::Model> build_nf_resnet(ObjectReader& r, const ModelContext& c) {
  std::string variant = "ResNet50";
  r.read("variant", &variant);
  r.check_one_of("variant", variant, models::nf_resnet_variant_names());
  models::NFResNetOptions o = models::nf_resnet_variant(variant);
  read_io(r, c, &o.in_channels, &o.num_classes);
  r.read("stem_channels", &o.stem_channels);
  r.check_range("stem_channels", static_cast<double>(o.stem_channels), 1, 1e9);
  r.read("stem_kernel", &o.stem_kernel);
  r.check_range("stem_kernel", static_cast<double>(o.stem_kernel), 1, 1e3);
  r.read("stem_stride", &o.stem_stride);
  r.check_range("stem_stride", static_cast<double>(o.stem_stride), 1, 1e3);
  r.read("stem_pool", &o.stem_pool);
  read_positive_list(r, "widths", &o.widths);
  read_positive_list(r, "depths", &o.depths);
  read_positive_list(r, "strides", &o.strides);
  if (o.depths.size() != o.widths.size() || o.strides.size() != o.widths.size()) {
    r.fail("depths", "widths, depths and strides must have one entry per stage");
  }
  read_positive(r, "bottleneck_ratio", &o.bottleneck_ratio);
  r.read("alpha", &o.alpha);
  r.check_range("alpha", o.alpha, 0.0, 1e3);
  read_rate(r, "stochdepth_rate", &o.stochdepth_rate);
  read_rate(r, "dropout", &o.dropout);
  read_nf_activation(r, &o.activation);
  r.read("use_se", &o.use_se);
  read_positive(r, "se_ratio", &o.se_ratio);
  r.read("skip_gain_init", &o.skip_gain_init);
  r.read("weight_standardization", &o.weight_standardization);
  read_positive(r, "width_multiplier", &o.width_multiplier);
  read_positive(r, "depth_multiplier", &o.depth_multiplier);
  return std::make_shared<models::NFResNet>(o, *c.init_gen, c.dropout_gen);
}

}  // namespace

std::vector<ModelEntry> nfnet_model_entries() {
  return {
      {"nfnet", "NFNet-F0..F7 / F0+..F7+ (Brock et al. 2021, 2102.06171)", build_nfnet},
      {"nf_resnet", "NF-ResNet-50..600 (Brock et al. 2021, 2101.08692)", build_nf_resnet},
  };
}

}  // namespace kiln::train
