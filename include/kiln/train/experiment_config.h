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
  // "multimodal_language_modeling" or "dgmr_gan".
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

struct DataConfig {
  // "fashion_mnist", "mnist", "cifar10", "text", "synthetic_images",
  // "fashion_mnist_captions".
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
