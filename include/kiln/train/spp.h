// kiln spp: signal propagation plots (Brock, De, Smith 2021, 2101.08692,
// section 3) of normalizer-free residual networks at initialisation.
//
// One forward pass of the freshly initialised model on one batch records,
// per residual block (models::BlockSignal), statistics over (N, H, W) per
// channel, averaged over channels:
//   avg_sq_mean       mean_c (mean_{N,H,W} y_c)^2 of the block output y
//   avg_var           mean_c  var_{N,H,W} y_c    of the block output y
//   residual_avg_var  mean_c  var_{N,H,W} f_c    of the residual branch f at
//                     its end (before stochastic depth, skip gain and alpha)
// plus the variance the beta / alpha bookkeeping predicts for the block
// output: 1 + alpha^2 g^2 after a transition block (its shortcut is a conv of
// the unit-variance, beta-scaled input), the previous block's prediction +
// alpha^2 g^2 otherwise, with g the block's skip gain (0 under SkipInit;
// with g = 1 this is 1 / beta_next^2, the official expected_std).
//
// Several variants (override sets over one config, e.g. with and without
// weight standardisation) are measured on the same batch and drawn together.
//
// An SPP file (`kiln spp FILE`, told apart from an experiment config by its
// "variants" key):
//   {
//     "base": "../models/nf_resnet101.json",   // relative to this file
//     "set": {"model.skip_gain_init": 1},       // overrides for every variant
//     "variants": [{"name": "ws", "set": {}},
//                  {"name": "no_ws", "set": {"model.weight_standardization": false}}],
//     "input": {"source": "gaussian", "batch_size": 64, "image_shape": [64, 64, 3]},
//     "output_dir": "runs/ablations/spp"
//   }
// "input.source" is "gaussian" (N(0, 1) pixels; image_shape defaults to the
// data's) or "data" (the first held-out batch of the config's data, with its
// normalisation).
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "kiln/models/model.h"
#include "kiln/models/nfnet/nf_layers.h"
#include "kiln/tensor/tensor.h"
#include "kiln/train/json_config.h"

namespace kiln::train {

struct SppInput {
  std::string source = "gaussian";  // "gaussian" or "data"
  int64_t batch_size = 64;
  std::vector<int64_t> image_shape;  // gaussian: (H, W, C); empty: the data's
  uint64_t seed = 0;                 // gaussian: the pixels' generator
};

struct SppVariant {
  std::string name;
  std::vector<std::string> sets;  // "key.path=value"
};

struct SppSpec {
  std::string file;  // the SPP file or the experiment config
  std::string base;  // the experiment config the variants override
  std::vector<std::string> sets;
  std::vector<SppVariant> variants;
  SppInput input;
  std::string output_dir;
};

// One residual block's row of spp.csv.
struct SppRow {
  std::string variant;
  int64_t block = 0;  // 0-based over the network
  int64_t stage = 0;
  int64_t index_in_stage = 0;
  bool transition = false;  // the block has a shortcut conv
  double expected_var = 0;  // the alpha / beta bookkeeping's prediction
  models::BlockSignal signal;
};

// Reads an SPP file. `overrides` apply to the file's JSON itself.
absl::StatusOr<SppSpec> load_spp(const std::string& path,
                                 const std::vector<std::string>& overrides);
// Whether `path` holds an SPP file (a "variants" key) rather than a config.
bool is_spp_file(const std::string& path);

// The per-block signal of a model of the NFNet family ("nfnet", "nf_resnet")
// on `images` (N, H, W, C), in eval mode without gradients; kiln::Error for
// other models. Also fills the blocks' structure into `rows` (one per block,
// variant left empty).
std::vector<SppRow> measure_signal_propagation(models::Model& model, const Tensor& images);

// Builds every variant's model from seed train.seed as `kiln train` would,
// measures it on one shared batch, and writes spp.csv and spp.svg (three
// panels against depth) into spec.output_dir. Returns the rows.
absl::StatusOr<std::vector<SppRow>> run_spp(const SppSpec& spec, std::FILE* console = stdout);

// The three-panel SVG of `rows` (one line per variant in each panel).
std::string spp_svg(const std::string& title, const std::vector<SppRow>& rows);

}  // namespace kiln::train
