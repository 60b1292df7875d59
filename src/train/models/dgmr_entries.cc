// Config parsing for DGMR: "model": {"name": "dgmr" (the paper's sizes) or
// "dgmr_small" (64 x 64 frames, 4 + 6, narrow), then any of the keys below
// to override one option (include/kiln/models/dgmr/dgmr.h):
// context_frames, lead_frames, context_channels, latent_channels,
// latent_input_channels, attention, generator_sn_eps,
// discriminator_channels, spatial_frames, spatial_blocks, temporal_blocks,
// temporal_crop.
#include "kiln/models/dgmr/dgmr.h"
#include "src/train/model_entries.h"

namespace kiln::train {
namespace {

using models::dgmr::DgmrOptions;

void read_count(ObjectReader& r, const std::string& key, int64_t* out, int64_t lo = 1) {
  r.read(key, out);
  r.check_range(key, static_cast<double>(*out), static_cast<double>(lo), 1e6);
}

DgmrOptions read_dgmr(ObjectReader& r, DgmrOptions o) {
  read_count(r, "context_frames", &o.context_frames);
  read_count(r, "lead_frames", &o.lead_frames);
  read_count(r, "context_channels", &o.context_channels, 8);
  if (o.context_channels % 8 != 0 || (o.context_channels / 4) % o.context_frames != 0) {
    r.fail("context_channels", "must divide by 8, and a quarter of it by context_frames");
  }
  read_count(r, "latent_channels", &o.latent_channels, 32);
  read_count(r, "latent_input_channels", &o.latent_input_channels);
  if (o.latent_channels % 32 != 0 || o.latent_channels / 32 < o.latent_input_channels) {
    r.fail("latent_channels", "must divide by 32, with a 32nd of it >= latent_input_channels");
  }
  r.read("attention", &o.attention);
  r.read("generator_sn_eps", &o.generator_sn_eps);
  r.check_range("generator_sn_eps", o.generator_sn_eps, 0.0, 1.0, false, true);
  read_count(r, "discriminator_channels", &o.discriminator_channels);
  read_count(r, "spatial_frames", &o.spatial_frames);
  read_count(r, "spatial_blocks", &o.spatial_blocks);
  read_count(r, "temporal_blocks", &o.temporal_blocks, 0);
  read_count(r, "temporal_crop", &o.temporal_crop, 0);
  return o;
}

ModelEntry entry(const std::string& name, const std::string& description, DgmrOptions base) {
  return {name, description, [base](ObjectReader& r, const ModelContext& c) {
            return std::shared_ptr<models::Model>(std::make_shared<models::dgmr::Dgmr>(
                read_dgmr(r, base), *c.init_gen, c.dropout_gen));
          }};
}

}  // namespace

std::vector<ModelEntry> dgmr_model_entries() {
  return {entry("dgmr",
                "DGMR (2104.00954): ConvGRU generator, spatial and temporal discriminators; the "
                "paper's sizes",
                models::dgmr::dgmr_paper()),
          entry("dgmr_small",
                "DGMR narrowed for CPU: 64 x 64 frames, 4 context + 6 lead, 0.7M parameters",
                models::dgmr::dgmr_small())};
}

}  // namespace kiln::train
