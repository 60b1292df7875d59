// The typed form of an experiment config (configs/README.md documents every
// key). Sections: model, task, data, optimizer, schedule, train, and
// output_dir. Parsed in one place (experiment_config.cc); a model's own
// options are parsed by its entry in the model registry.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "kiln/tensor/dtype.h"
#include "kiln/train/json_config.h"

namespace kiln::train {

struct ModelConfig {
  std::string name;
  Json options = Json::object();  // the model section without "name"
};

struct TaskConfig {
  // "classification", "language_modeling", "masked_language_modeling",
  // "multimodal_language_modeling", "simclr" or "dgmr_gan".
  std::string name = "classification";
  double label_smoothing = 0.0;
  // Classification: MixUp / CutMix on each training batch into soft targets
  // (src/train/tasks/mixup.h; both: half the batch each, as NFNets).
  bool mixup = false;
  bool cutmix = false;
  double mixup_alpha = 0.2;  // MixUp ratio ~ Beta(alpha, alpha)
  // Masked language modelling ("masked_language_modeling", BERT's recipe):
  // each byte is picked with probability mask_rate; a picked byte becomes
  // MASK with probability mask_token_fraction, a random byte with
  // random_token_fraction, else stays; the loss is on picked bytes only.
  double mask_rate = 0.15;
  double mask_token_fraction = 0.8;
  double random_token_fraction = 0.1;
  // Classification: the batch key of the model input ("spectrogram" for
  // audio datasets).
  std::string input_key = "image";
  // SimCLR ("simclr"): NT-Xent temperature over the views "view1", "view2".
  double temperature = 0.1;
  // Adversarial training of DGMR ("dgmr_gan", src/train/tasks/dgmr_gan_task.h):
  // "gan" (hinge GAN + grid-cell regulariser), "regulariser" (the
  // regulariser only, no discriminator) or "adversarial" (no regulariser).
  std::string gan_mode = "gan";
  double generator_lr = 5e-5;  // scaled by the schedule (lr / optimizer.lr)
  double discriminator_lr = 2e-4;
  int64_t discriminator_steps = 2;      // per generator step
  int64_t generator_samples = 6;        // latents per input in the generator step
  double regulariser_weight = 20.0;     // lambda
  double regulariser_min_weight = 0.0;  // w(y) = clip(y, this, 24)
};

struct AugmentConfig {
  int64_t random_crop_padding = 0;  // 0: no random crop
  bool horizontal_flip = false;
  std::vector<double> mean;  // per channel; empty: no normalisation
  std::vector<double> std;
  int64_t multiplicity = 1;  // augmentation multiplicity m (batch holds B/m images)
};

// The audio datasets: "audio_manifest" (the labelled clips of the manifest
// at data.path, {"image": (F, n_mels, 1), "label": ()}) and "audio_views"
// (two augmented views of each clip of a manifest, labels ignored, for
// SimCLR: {"view1", "view2"}: (F, n_mels, 1) each). Both take the train and
// test splits of the manifest (data/audio_manifest.h).
struct AudioDataConfig {
  double clip_seconds = 1.0;         // every clip cut or zero-padded to this
  std::string features = "log_mel";  // or "waveform": (T) under "audio" (view1 / view2)
  int64_t n_mels = 80;               // 25 ms windows every 10 ms at 16 kHz
  bool standardize = true;           // log-mel: minus the train split's mean, over its std
  // audio_views: each view a random crop of crop_seconds (0: the whole clip),
  // then random gain and added noise.
  double crop_seconds = 0.0;
  bool gain = true;
  double min_gain_db = -6.0;
  double max_gain_db = 6.0;
  bool noise = true;
  double min_snr_db = 10.0;
  double max_snr_db = 40.0;
};

// Radar sequences (data "radar_synthetic" and "radar_npy", data/radar.h):
// examples {"frames": (T, H, W, 1)} mm/h, T = context_frames + lead_frames.
// The generator keys mirror data::RadarSyntheticOptions.
struct RadarConfig {
  int64_t height = 64;
  int64_t width = 64;
  int64_t context_frames = 4;
  int64_t lead_frames = 18;  // radar_npy: the file's T - context_frames
  double max_speed = 1.0;
  double motion_variation = 0.3;
  double max_turn = 0.02;
  double growth = 0.4;
  double growth_period = 40.0;
  double min_wet_fraction = 0.1;
  double max_wet_fraction = 0.4;
  double spectral_slope = 3.0;
  double outer_scale = 32.0;
  double rate_gain = 2.0;
};

struct DataConfig {
  // "fashion_mnist", "mnist", "cifar10", "text", "synthetic_images",
  // "fashion_mnist_captions", "audio_manifest", "audio_views", "radar_synthetic",
  // "radar_npy" (path: an npy file; the last eval_fraction of its sequences
  // are held out).
  std::string name = "fashion_mnist";
  std::string path;  // directory or file; datasets have defaults
  int64_t batch_size = 64;
  int64_t eval_batch_size = 0;  // 0: batch_size
  bool shuffle = true;
  bool prefetch = true;
  AugmentConfig augment;
  // Images: a (height, width, channels) for synthetic data; also the number
  // of classes and examples.
  std::vector<int64_t> image_shape = {28, 28, 1};
  int64_t num_classes = 10;
  int64_t num_examples = 0;  // synthetic: examples in the train split
  // Text: window length and the held-out fraction of the bytes.
  int64_t sequence_length = 256;
  double eval_fraction = 0.05;
  // fashion_mnist_captions (interleaved image-caption sequences of
  // sequence_length tokens, data/interleaved.h): images per sequence.
  int64_t min_images = 1;
  int64_t max_images = 4;
  // Images: apply one fixed random permutation to the pixels of every image,
  // train and held out (data::epoch_permutation of H * W keyed by
  // kPixelPermutationSeed, the same in every run): the Perceiver's
  // permutation-invariance ablation.
  bool permute_pixels = false;
  // Use only the first N training examples (0: all), for quick runs.
  int64_t limit_train = 0;
  int64_t limit_eval = 0;
  AudioDataConfig audio;
  RadarConfig radar;
};

// The seed of data.permute_pixels' permutation (models that keep the
// position features with their pixels use the same: perceiver's
// permute_positions).
inline constexpr uint64_t kPixelPermutationSeed = 0x7065726d757465;

struct AgcConfig {
  double clipping = 0.0;  // lambda; 0 disables AGC
  double eps = 1e-3;
  std::vector<std::string> exclude;  // name regexes
};

struct OptimizerConfig {
  std::string name = "sgd";  // "sgd", "adam", "adamw", "lamb"
  double lr = 0.1;
  double momentum = 0.9;
  bool nesterov = true;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
  std::vector<std::string> no_weight_decay;  // name regexes
  AgcConfig agc;
  double clip_global_norm = 0.0;  // 0 disables
  int64_t max_consecutive_skips = 10;
};

struct ScheduleConfig {
  std::string name = "constant";  // "constant", "warmup_cosine", "warmup_linear", "step"
  int64_t warmup_steps = 0;
  double final_lr = 0.0;            // as a fraction of the base lr, for the decays
  std::vector<int64_t> boundaries;  // "step": steps where lr *= gamma
  double gamma = 0.1;
};

struct TrainConfig {
  int64_t steps = 1000;
  uint64_t seed = 0;
  int64_t log_every = 10;
  int64_t eval_every = 0;        // 0: only at the end
  int64_t eval_batches = 0;      // 0: the whole held-out split
  int64_t checkpoint_every = 0;  // 0: only at the end
  int64_t keep_checkpoints = 3;
  double ema_decay = 0.0;  // 0: no EMA
  bool eval_with_ema = true;
  int threads = 0;                // 0: all cores
  std::string precision = "f32";  // or "bf16"
};

// The dtype matmuls and convolutions run in (kiln/ops/autocast.h): bf16 for
// precision "bf16", none (plain f32) otherwise.
std::optional<DType> compute_dtype(const TrainConfig& train);

struct ExperimentConfig {
  std::string file;  // where it came from
  Json resolved;     // after extends and overrides
  ModelConfig model;
  TaskConfig task;
  DataConfig data;
  OptimizerConfig optimizer;
  ScheduleConfig schedule;
  TrainConfig train;
  std::string output_dir = "runs/default";
};

// Loads `path`, resolves "extends", applies "--set" overrides, and parses.
absl::StatusOr<ExperimentConfig> load_experiment(const std::string& path,
                                                 const std::vector<std::string>& overrides = {});
// Parses an already resolved config; `file` names it in errors.
absl::StatusOr<ExperimentConfig> parse_experiment(const Json& config, const std::string& file);

}  // namespace kiln::train
