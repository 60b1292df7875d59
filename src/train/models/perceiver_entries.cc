// Config parsing for the Perceiver family: "perceiver" (decoder "mean" by
// default: the Perceiver's averaged latents and linear head) and
// "perceiver_io" (decoder "classification" for images, "mlm" for tokens).
// A "preset" key picks a published configuration; every other key
// overrides one of its options (configs/README.md lists them).
#include "kiln/data/dataset.h"
#include "kiln/models/perceiver/perceiver.h"
#include "kiln/train/experiment_config.h"
#include "src/train/model_entries.h"

namespace kiln::train {
namespace {

using models::PerceiverDecoder;
using models::PerceiverInput;
using models::PerceiverOptions;
using models::PerceiverPosition;

void read_count(ObjectReader& r, const std::string& key, int64_t* out, int64_t lo = 1) {
  r.read(key, out);
  r.check_range(key, static_cast<double>(*out), static_cast<double>(lo), 1e9);
}

template <class E>
void read_enum(ObjectReader& r, const std::string& key,
               const std::vector<std::pair<std::string, E>>& names, E* out) {
  if (!r.has(key)) return;
  std::string value;
  r.read(key, &value);
  std::vector<std::string> allowed;
  for (const auto& [name, e] : names) {
    allowed.push_back(name);
    if (name == value) *out = e;
  }
  r.check_one_of(key, value, allowed);
}

PerceiverOptions read_perceiver(ObjectReader& r, const ModelContext& c, bool io) {
  PerceiverOptions o;
  const bool tokens_data = c.input_shape.size() == 1;
  if (r.has("preset")) {
    std::string preset;
    r.read("preset", &preset);
    r.check_one_of("preset", preset, models::perceiver_preset_names());
    o = models::perceiver_preset(preset);
  } else {
    o.input = tokens_data ? PerceiverInput::kTokens : PerceiverInput::kImage;
    if (tokens_data) o.position = PerceiverPosition::kLearned;
    o.decoder = !io           ? PerceiverDecoder::kMean
                : tokens_data ? PerceiverDecoder::kMaskedLm
                              : PerceiverDecoder::kClassification;
  }

  // ----- input
  read_enum<PerceiverInput>(r, "input",
                            {{"image", PerceiverInput::kImage},
                             {"tokens", PerceiverInput::kTokens},
                             {"flow", PerceiverInput::kFlow}},
                            &o.input);
  o.input_shape = c.input_shape;
  r.read("input_shape", &o.input_shape);
  const size_t rank = o.input == PerceiverInput::kTokens ? 1 : 3;
  if (o.input_shape.size() != rank) {
    r.fail("input_shape", rank == 1 ? "token inputs need (T): use a text dataset"
                                    : "image inputs need [height, width, channels]");
  }
  for (int64_t s : o.input_shape) {
    if (s <= 0) r.fail("input_shape", "entries must be positive");
  }
  o.num_classes = c.num_classes;
  read_count(r, "num_classes", &o.num_classes);
  read_count(r, "vocab_size", &o.vocab_size);
  read_count(r, "embed_dim", &o.embed_dim);
  read_count(r, "input_projection", &o.input_projection, 0);
  read_enum<PerceiverPosition>(r, "position",
                               {{"fourier", PerceiverPosition::kFourier},
                                {"learned", PerceiverPosition::kLearned},
                                {"none", PerceiverPosition::kNone}},
                               &o.position);
  read_count(r, "num_bands", &o.fourier.num_bands);
  r.read("max_resolution", &o.fourier.max_resolution);
  if (!o.fourier.max_resolution.empty() && o.fourier.max_resolution.size() != 2) {
    r.fail("max_resolution", "must have one entry per spatial axis: [height, width]");
  }
  for (double m : o.fourier.max_resolution) {
    if (!(m > 0)) r.fail("max_resolution", "entries must be positive");
  }
  r.read("concat_pos", &o.fourier.concat_pos);
  r.read("sine_only", &o.fourier.sine_only);
  read_count(r, "position_channels", &o.position_channels);
  r.read("position_init_scale", &o.position_init_scale);
  r.check_range("position_init_scale", o.position_init_scale, 0.0, 1e3);
  read_count(r, "position_projection", &o.position_projection, 0);
  if (r.has("position_trainable")) {
    bool trainable = true;
    r.read("position_trainable", &trainable);
    o.position_training =
        trainable ? PerceiverOptions::Training::kTrainable : PerceiverOptions::Training::kFixed;
  }
  std::string combine = o.concat_position ? "concat" : "add";
  r.read("position_combine", &combine);
  r.check_one_of("position_combine", combine, {"concat", "add"});
  o.concat_position = combine == "concat";
  bool permute = false;
  r.read("permute_positions", &permute);
  if (permute) {
    if (o.input == PerceiverInput::kTokens) r.fail("permute_positions", "applies to images");
    // The permutation of data.permute_pixels (build_data.cc).
    const int64_t pixels = o.input_shape[0] * o.input_shape[1];
    o.position_permutation =
        data::epoch_permutation(pixels, {.seed = kPixelPermutationSeed, .epoch = 0}, 0);
  }
  r.read("mask_pad_tokens", &o.mask_pad_tokens);

  // ----- encoder
  read_count(r, "num_latents", &o.num_latents);
  read_count(r, "latent_channels", &o.latent_channels);
  r.read("latent_init_scale", &o.latent_init_scale);
  r.check_range("latent_init_scale", o.latent_init_scale, 0.0, 1e3);
  read_count(r, "num_blocks", &o.num_blocks);
  read_count(r, "num_self_attends_per_block", &o.num_self_attends_per_block, 0);
  r.read("share_blocks", &o.share_blocks);
  read_count(r, "num_cross_attends", &o.num_cross_attends);
  if (o.num_cross_attends > o.num_blocks) r.fail("num_cross_attends", "must not exceed num_blocks");
  r.read("share_cross_attends", &o.share_cross_attends);
  read_count(r, "cross_attend_heads", &o.cross_attend_heads);
  read_count(r, "cross_attend_qk_channels", &o.cross_attend_qk_channels, 0);
  read_count(r, "cross_attend_v_channels", &o.cross_attend_v_channels, 0);
  read_count(r, "cross_attend_widening", &o.cross_attend_widening);
  r.read("encoder_query_residual", &o.encoder_query_residual);
  read_count(r, "self_attend_heads", &o.self_attend_heads);
  read_count(r, "self_attend_qk_channels", &o.self_attend_qk_channels, 0);
  read_count(r, "self_attend_v_channels", &o.self_attend_v_channels, 0);
  read_count(r, "self_attend_widening", &o.self_attend_widening);
  r.read("dropout", &o.dropout);
  r.check_range("dropout", o.dropout, 0.0, 1.0, true, false);

  // ----- decoder
  read_enum<PerceiverDecoder>(r, "decoder",
                              {{"mean", PerceiverDecoder::kMean},
                               {"classification", PerceiverDecoder::kClassification},
                               {"mlm", PerceiverDecoder::kMaskedLm},
                               {"flow", PerceiverDecoder::kFlow}},
                              &o.decoder);
  r.read("final_norm", &o.final_norm);
  r.read("zero_init_head", &o.zero_init_head);
  read_count(r, "query_channels", &o.query_channels);
  std::string queries = o.shared_query ? "shared" : "positions";
  r.read("queries", &queries);
  r.check_one_of("queries", queries, {"positions", "shared"});
  o.shared_query = queries == "shared";
  read_count(r, "decoder_heads", &o.decoder_heads);
  read_count(r, "decoder_qk_channels", &o.decoder_qk_channels, 0);
  read_count(r, "decoder_v_channels", &o.decoder_v_channels, 0);
  read_count(r, "decoder_widening", &o.decoder_widening);
  r.read("decoder_query_residual", &o.decoder_query_residual);
  read_count(r, "output_channels", &o.output_channels);
  r.read("flow_rescale", &o.flow_rescale);
  r.check_range("flow_rescale", o.flow_rescale, 0.0, 1e12, false);
  return o;
}

std::shared_ptr<models::Model> build_perceiver(ObjectReader& r, const ModelContext& c, bool io) {
  const PerceiverOptions o = read_perceiver(r, c, io);
  // Option combinations the reader cannot see alone are checked by the
  // model; build_model turns its kiln::Error into a config error.
  return std::make_shared<models::Perceiver>(o, *c.init_gen, c.dropout_gen);
}

}  // namespace

std::vector<ModelEntry> perceiver_model_entries() {
  return {
      {"perceiver",
       "Perceiver (2103.03206): latent cross-attends into the input (Fourier / learned / no "
       "positions), weight-shared latent transformers, averaged-latent head; Perceiver IO "
       "decoders by option",
       [](ObjectReader& r, const ModelContext& c) { return build_perceiver(r, c, false); }},
      {"perceiver_io",
       "Perceiver IO (2107.14795): the Perceiver encoder plus a cross-attention decoder from "
       "output queries (classification, byte-level masked LM, optical-flow style dense outputs)",
       [](ObjectReader& r, const ModelContext& c) { return build_perceiver(r, c, true); }},
  };
}

}  // namespace kiln::train
