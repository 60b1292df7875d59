// Config parsing for "slowfast_nfnet" (HARES, 2111.12124): a "preset" ("F0"
// or "tiny") picks the architecture; the NFNet keys (widths, depths, ...,
// read_nfnet_options) set the slow pathway and the shared recipe, and the
// SlowFast keys the rest. With "projection" (SimCLR) or "head": false the
// model has no classifier and num_classes is not needed.
#include "kiln/models/slowfast_nfnet/slowfast_nfnet.h"
#include "src/train/model_entries.h"

namespace kiln::train {
namespace {

void read_positive(ObjectReader& r, const std::string& key, int64_t* value) {
  r.read(key, value);
  r.check_range(key, static_cast<double>(*value), 1, 1e6);
}

std::shared_ptr<models::Model> build_slowfast_nfnet(ObjectReader& r, const ModelContext& c) {
  std::string preset = "F0";
  r.read("preset", &preset);
  r.check_one_of("preset", preset, models::slowfast_nfnet_preset_names());
  models::SlowFastNFNetOptions o = models::slowfast_nfnet_preset(preset);
  r.read("projection", &o.projection);
  for (int64_t size : o.projection) {
    if (size <= 0) r.fail("projection", "layer sizes must be positive");
  }
  // Unlabelled (SimCLR) data implies no classes; the projection replaces the head.
  ModelContext context = c;
  context.num_classes = std::max<int64_t>(1, c.num_classes);
  o.slow = read_nfnet_options(r, context, o.slow);
  bool head = true;  // false: forward returns the embedding (kiln info on the encoder)
  r.read("head", &head);
  if (!o.projection.empty() || !head) o.slow.num_classes = 0;
  r.read("pathways", &o.pathways);
  r.check_one_of("pathways", o.pathways, {"slowfast", "slow_only", "fast_only"});
  r.read("normalization", &o.normalization);
  r.check_one_of("normalization", o.normalization, {"none", "batch_norm"});
  read_positive(r, "time_stride", &o.time_stride);
  read_positive(r, "channel_ratio", &o.channel_ratio);
  read_positive(r, "fusion_kernel", &o.fusion_kernel);
  read_positive(r, "fusion_channel_ratio", &o.fusion_channel_ratio);
  return std::make_shared<models::SlowFastNFNet>(o, *c.init_gen, c.dropout_gen);
}

}  // namespace

std::vector<ModelEntry> slowfast_nfnet_model_entries() {
  return {{"slowfast_nfnet",
           "Slowfast NFNet over spectrograms (HARES, Wang et al. 2021, 2111.12124); "
           "normaliser-free or BatchNorm, slowfast / slow_only / fast_only",
           build_slowfast_nfnet}};
}

}  // namespace kiln::train
