// Config parsing for Flamingo: "model": {"name": "flamingo", "preset":
// "flamingo_3b" | "flamingo_9b" | "flamingo_80b", "vision": {NFNet keys},
// "resampler": {...}, "lm": {transformer_lm keys}, "cross_attention": {...},
// "cross_attention_every", "image_token_id", "eoc_token_id",
// "freeze_vision", "freeze_lm", "vision_checkpoint", "vision_checkpoint_group",
// "lm_checkpoint"}.
// Without a preset the defaults of FlamingoOptions apply; every key
// overrides one option. The *_checkpoint keys name a run directory (or a
// checkpoint) whose model weights the vision encoder or the LM start from.
#include "kiln/models/flamingo/flamingo.h"
#include "kiln/nn/layers.h"
#include "kiln/train/checkpoint.h"
#include "src/train/model_entries.h"

namespace kiln::train {
namespace {

void read_count(ObjectReader& r, const std::string& key, int64_t* out, int64_t lo = 1) {
  r.read(key, out);
  r.check_range(key, static_cast<double>(*out), static_cast<double>(lo), 1e9);
}

void read_activation(ObjectReader& r, std::string* out) {
  r.read("activation", out);
  if (!nn::is_activation_name(*out)) r.fail("activation", "is not a known activation");
}

void read_resampler(ObjectReader r, models::PerceiverResamplerOptions* o) {
  read_count(r, "dim", &o->dim);
  read_count(r, "num_latents", &o->num_latents);
  read_count(r, "depth", &o->depth);
  read_count(r, "heads", &o->heads);
  read_count(r, "head_dim", &o->head_dim);
  read_count(r, "ff_mult", &o->ff_mult);
  read_activation(r, &o->activation);
  read_count(r, "max_frames", &o->max_frames);
  r.finish();
}

void read_cross_attention(ObjectReader r, models::GatedCrossAttentionOptions* o) {
  read_count(r, "heads", &o->heads);
  read_count(r, "head_dim", &o->head_dim);
  read_count(r, "ff_mult", &o->ff_mult);
  read_activation(r, &o->activation);
  r.read("gated", &o->gated);
  r.finish();
}

struct FlamingoConfig {
  models::FlamingoOptions options;
  std::string vision_checkpoint, lm_checkpoint;
  std::string vision_checkpoint_group = "model";  // "ema_model": the EMA weights
};

FlamingoConfig read_flamingo(ObjectReader& r, const ModelContext& c) {
  FlamingoConfig config;
  models::FlamingoOptions& o = config.options;
  if (r.has("preset")) {
    std::string preset;
    r.read("preset", &preset);
    r.check_one_of("preset", preset, models::flamingo_preset_names());
    o = models::flamingo_preset(preset);
  }
  {
    // The vision encoder's input shape: vision.input_shape, else the preset's channels.
    ObjectReader v = r.object("vision");
    o.vision = read_nfnet_options(
        v, {.input_shape = {1, 1, o.vision.in_channels}, .num_classes = o.vision.num_classes},
        o.vision);
    v.finish();
  }
  read_resampler(r.object("resampler"), &o.resampler);
  {
    // The LM's vocabulary and length: lm.vocab_size / lm.max_len, else a
    // token dataset's, else the preset's.
    ObjectReader l = r.object("lm");
    const bool tokens_data = c.input_shape.size() == 1;
    int64_t vocab = tokens_data ? c.num_classes : o.lm.vocab_size;
    read_count(l, "vocab_size", &vocab);
    const int64_t length = tokens_data ? c.input_shape[0] : o.lm.max_len;
    o.lm = read_transformer_options(l, {.input_shape = {length}, .num_classes = vocab},
                                    /*causal=*/true, o.lm);
    l.finish();
  }
  read_cross_attention(r.object("cross_attention"), &o.cross_attention);
  read_count(r, "cross_attention_every", &o.cross_attention_every);
  if (o.cross_attention_every > o.lm.num_layers) {
    r.fail("cross_attention_every", "must not exceed lm.num_layers");
  }
  for (const char* key : {"image_token_id", "eoc_token_id"}) {
    int64_t* id = std::string(key) == "image_token_id" ? &o.image_token_id : &o.eoc_token_id;
    r.read(key, id);
    r.check_range(key, static_cast<double>(*id), 0, static_cast<double>(o.lm.vocab_size - 1));
  }
  if (o.image_token_id == o.eoc_token_id) r.fail("eoc_token_id", "must differ from image_token_id");
  r.read("freeze_vision", &o.freeze_vision);
  r.read("freeze_lm", &o.freeze_lm);
  r.read("vision_checkpoint", &config.vision_checkpoint);
  r.read("vision_checkpoint_group", &config.vision_checkpoint_group);
  r.check_one_of("vision_checkpoint_group", config.vision_checkpoint_group, {"model", "ema_model"});
  r.read("lm_checkpoint", &config.lm_checkpoint);
  return config;
}

std::shared_ptr<models::Model> build_flamingo(ObjectReader& r, const ModelContext& c) {
  const FlamingoConfig config = read_flamingo(r, c);
  auto model = std::make_shared<models::Flamingo>(config.options, *c.init_gen, c.dropout_gen);
  if (!config.vision_checkpoint.empty()) {
    absl::StatusOr<int64_t> step = load_module_weights(
        model->vision_encoder(), config.vision_checkpoint, config.vision_checkpoint_group);
    if (!step.ok()) r.fail("vision_checkpoint", std::string(step.status().message()));
  }
  if (!config.lm_checkpoint.empty()) {
    absl::StatusOr<int64_t> step =
        load_module_weights(model->language_model(), config.lm_checkpoint);
    if (!step.ok()) r.fail("lm_checkpoint", std::string(step.status().message()));
  }
  return model;
}

}  // namespace

std::vector<ModelEntry> flamingo_model_entries() {
  return {{"flamingo",
           "Flamingo (2204.14198): frozen NFNet and LM, Perceiver Resampler, gated "
           "cross-attention",
           build_flamingo, [](ObjectReader& r, const ModelContext& c) {
             const models::FlamingoParameterCounts n =
                 models::flamingo_num_parameters(read_flamingo(r, c).options);
             return ParameterCounts{{"vision", n.vision},
                                    {"lm", n.lm},
                                    {"cross_attention", n.cross_attention},
                                    {"resampler", n.resampler},
                                    {"other", n.other}};
           }}};
}

}  // namespace kiln::train
