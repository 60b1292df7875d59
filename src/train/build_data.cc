#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "kiln/data/augment.h"
#include "kiln/data/cifar.h"
#include "kiln/data/idx.h"
#include "kiln/data/interleaved.h"
#include "kiln/data/radar.h"
#include "kiln/data/synthetic.h"
#include "kiln/data/text.h"
#include "kiln/ops/shape.h"
#include "src/train/builders.h"

namespace kiln::train {
namespace {

constexpr char kFashionMnistDir[] = "/usr/share/datasets/fashion-mnist";

data::DatasetPtr limit(data::DatasetPtr dataset, int64_t n) {
  if (n <= 0 || n >= dataset->size()) return dataset;
  return data::slice(std::move(dataset), 0, n);
}

// Rank `rank`'s share of each global batch of `batch_size` examples: global
// batch i is examples [i B, (i + 1) B) of `examples`, and the rank takes the
// b = B / N of them from i B + rank b on, which is batch i N + rank of the
// batches of b. Only the share's examples are loaded (and augmented: the
// draws are keyed by each example's index, as in one process).
class ShardedBatches final : public data::Dataset {
 public:
  ShardedBatches(const data::DatasetPtr& examples, int64_t batch_size, const DataShard& shard)
      : local_(data::batch(examples, batch_size / shard.world_size, /*drop_last=*/true)),
        size_(examples->size() / batch_size),
        rank_(shard.rank),
        world_size_(shard.world_size) {}
  int64_t size() const override { return size_; }

 protected:
  data::Example get_checked(int64_t index, const data::EpochKey& key) const override {
    return local_->get(index * world_size_ + rank_, key);
  }

 private:
  data::DatasetPtr local_;
  int64_t size_;
  int64_t rank_;
  int64_t world_size_;
};

struct Splits {
  data::DatasetPtr train, eval;
  std::vector<int64_t> input_shape;
  int64_t num_classes = 0;
  bool images = true;
};

absl::StatusOr<Splits> load_splits(const ExperimentConfig& config) {
  const DataConfig& d = config.data;
  Splits s;
  if (d.name == "fashion_mnist" || d.name == "mnist" || d.name == "cifar10") {
    const bool cifar = d.name == "cifar10";
    std::string dir = d.path;
    if (dir.empty() && d.name == "fashion_mnist") dir = kFashionMnistDir;
    if (dir.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(config.file, ": key data.path is required for dataset ", d.name));
    }
    absl::StatusOr<data::LabeledImages> train =
        cifar ? data::load_cifar(dir, true) : data::load_mnist(dir, true);
    if (!train.ok()) return train.status();
    absl::StatusOr<data::LabeledImages> eval =
        cifar ? data::load_cifar(dir, false) : data::load_mnist(dir, false);
    if (!eval.ok()) return eval.status();
    s.train = data::labeled_images_dataset(*train);
    s.eval = data::labeled_images_dataset(*eval);
    s.input_shape = {train->images.size(1), train->images.size(2), train->images.size(3)};
    s.num_classes = train->num_classes;
  } else if (d.name == "synthetic_images") {
    data::SyntheticImagesOptions o{.size = d.num_examples > 0 ? d.num_examples : 1024,
                                   .height = d.image_shape[0],
                                   .width = d.image_shape[1],
                                   .channels = d.image_shape[2],
                                   .num_classes = d.num_classes,
                                   .seed = config.train.seed};
    s.train = data::learnable_images(o);
    data::SyntheticImagesOptions held_out = o;
    held_out.size = std::max<int64_t>(o.size / 8, 1);
    held_out.seed = o.seed + 1;
    s.eval = data::learnable_images(held_out);
    s.input_shape = d.image_shape;
    s.num_classes = d.num_classes;
  } else if (d.name == "radar_synthetic") {
    const RadarConfig& r = d.radar;
    data::RadarSyntheticOptions o{.size = d.num_examples > 0 ? d.num_examples : 1024,
                                  .height = r.height,
                                  .width = r.width,
                                  .context_frames = r.context_frames,
                                  .lead_frames = r.lead_frames,
                                  .max_speed = r.max_speed,
                                  .motion_variation = r.motion_variation,
                                  .max_turn = r.max_turn,
                                  .growth = r.growth,
                                  .growth_period = r.growth_period,
                                  .min_wet_fraction = r.min_wet_fraction,
                                  .max_wet_fraction = r.max_wet_fraction,
                                  .spectral_slope = r.spectral_slope,
                                  .outer_scale = r.outer_scale,
                                  .rate_gain = r.rate_gain,
                                  .seed = config.train.seed};
    s.train = data::radar_synthetic(o);
    data::RadarSyntheticOptions held_out = o;
    held_out.size = std::max<int64_t>(o.size / 8, 1);
    held_out.seed = o.seed + 1;
    s.eval = data::radar_synthetic(held_out);
    s.input_shape = {r.context_frames + r.lead_frames, r.height, r.width, 1};
    s.images = false;
  } else if (d.name == "radar_npy") {
    if (d.path.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(config.file, ": key data.path is required for dataset radar_npy"));
    }
    absl::StatusOr<Tensor> sequences = data::read_radar_npy(d.path);  // (N, T, H, W, 1)
    if (!sequences.ok()) return sequences.status();
    const int64_t n = sequences->size(0), t = sequences->size(1);
    if (t <= d.radar.context_frames) {
      return absl::InvalidArgumentError(absl::StrCat(
          d.path, ": sequences of ", t, " frames, but key data.radar.context_frames is ",
          d.radar.context_frames, " (need at least one lead frame)"));
    }
    if (n < 2) {
      return absl::InvalidArgumentError(
          absl::StrCat(d.path, ": ", n, " sequence(s); need at least 2 (train and held out)"));
    }
    const int64_t held = std::clamp<int64_t>(std::llround(d.eval_fraction * n), 1, n - 1);
    s.train = data::radar_sequences_dataset(*sequences, 0, n - held);
    s.eval = data::radar_sequences_dataset(*sequences, n - held, n);
    s.input_shape = {t, sequences->size(2), sequences->size(3), 1};
    s.images = false;
  } else if (d.name == "fashion_mnist_captions") {
    const std::string dir = fashion_mnist_dir(d);
    absl::StatusOr<data::LabeledImages> train = data::load_mnist(dir, true);
    if (!train.ok()) return train.status();
    absl::StatusOr<data::LabeledImages> eval = data::load_mnist(dir, false);
    if (!eval.ok()) return eval.status();
    const data::InterleavedOptions o = fashion_mnist_captions_format(d);
    try {
      s.train =
          data::interleaved_captions(*train, data::fashion_mnist_class_names(), o,
                                     d.num_examples > 0 ? d.num_examples : train->images.size(0));
      s.eval = data::interleaved_captions(*eval, data::fashion_mnist_class_names(), o,
                                          eval->images.size(0));
    } catch (const Error& e) {
      return absl::InvalidArgumentError(absl::StrCat(config.file, ": data: ", e.what()));
    }
    s.input_shape = {d.sequence_length};
    s.num_classes = data::kByteVocabSize;
    s.images = false;
  } else if (d.name == "text") {
    if (d.path.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(config.file, ": key data.path is required for dataset text"));
    }
    absl::StatusOr<data::TextSplits> text =
        data::load_text(d.path, d.eval_fraction, {.seq_len = d.sequence_length});
    if (!text.ok()) return text.status();
    s.train = text->train;
    s.eval = text->held_out;
    s.input_shape = {d.sequence_length};
    s.num_classes = 256;
    s.images = false;
  } else if (d.name == "audio_manifest" || d.name == "audio_views") {
    absl::StatusOr<AudioSplits> audio = load_audio_splits(config);
    if (!audio.ok()) return audio.status();
    s.train = audio->train;
    s.eval = audio->eval;
    s.input_shape = audio->input_shape;
    s.num_classes = audio->num_classes;
    s.images = false;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat(config.file, ": key data.name has unknown value \"", d.name, "\""));
  }
  return s;
}

}  // namespace

data::InterleavedOptions fashion_mnist_captions_format(const DataConfig& d) {
  // Normalised as configs/experiments/fashion_mnist.json trains the NFNet
  // that serves as Flamingo's vision encoder.
  return {.sequence_length = d.sequence_length,
          .min_images = d.min_images,
          .max_images = d.max_images,
          .mean = {0.286},
          .std = {0.353}};
}

std::string fashion_mnist_dir(const DataConfig& d) {
  return d.path.empty() ? kFashionMnistDir : d.path;
}

DataSignature data_signature(const DataConfig& d) {
  if (d.name == "fashion_mnist" || d.name == "mnist") return {{28, 28, 1}, 10, false};
  if (d.name == "cifar10") return {{32, 32, 3}, 10, false};
  if (d.name == "text" || d.name == "fashion_mnist_captions") {
    return {{d.sequence_length}, data::kByteVocabSize, true};
  }
  if (d.name == "audio_manifest" || d.name == "audio_views") {
    return audio_data_signature(d);
  }
  if (d.name == "radar_synthetic" || d.name == "radar_npy") {
    // radar_npy: the configured shape (the file's T, H, W are only known
    // once it is read).
    const RadarConfig& r = d.radar;
    return {{r.context_frames + r.lead_frames, r.height, r.width, 1}, 0, false};
  }
  return {d.image_shape, d.num_classes, false};
}

absl::StatusOr<TrainEvalSplits> build_splits(const ExperimentConfig& config) {
  absl::StatusOr<Splits> splits = load_splits(config);
  if (!splits.ok()) return splits.status();
  return TrainEvalSplits{limit(splits->train, config.data.limit_train),
                         limit(splits->eval, config.data.limit_eval)};
}

absl::StatusOr<data::DatasetPtr> build_split(const ExperimentConfig& config, bool train) {
  absl::StatusOr<TrainEvalSplits> splits = build_splits(config);
  if (!splits.ok()) return splits.status();
  return train ? splits->train : splits->eval;
}

absl::StatusOr<RunData> build_data(const ExperimentConfig& config, const DataShard& shard) {
  const DataConfig& d = config.data;
  if (shard.world_size < 1 || shard.rank < 0 || shard.rank >= shard.world_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("rank ", shard.rank, " of ", shard.world_size, " is not a valid data shard"));
  }
  if (d.batch_size % shard.world_size != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(config.file, ": key data.batch_size (", d.batch_size,
                     ", the global batch) must be divisible by the number of ranks (",
                     shard.world_size, "): each rank takes an equal share of every batch"));
  }
  absl::StatusOr<Splits> splits = load_splits(config);
  if (!splits.ok()) return splits.status();
  if (d.permute_pixels) {
    if (!splits->images) {
      return absl::InvalidArgumentError(
          absl::StrCat(config.file, ": key data.permute_pixels applies to image datasets only"));
    }
    // One fixed permutation of the H * W pixels for every image (perceiver's
    // permute_positions draws the same one).
    const int64_t h = splits->input_shape[0], w = splits->input_shape[1];
    const Tensor perm = from_vector(
        data::epoch_permutation(h * w, {.seed = kPixelPermutationSeed, .epoch = 0}, 0), {h * w});
    const data::Transform permute = [perm](data::Example example, Generator& /*gen*/) {
      const Tensor& image = example.at(data::kImageKey);  // (H, W, C)
      const Shape shape = image.shape();
      const Tensor pixels = reshape(image, {shape[0] * shape[1], shape[2]});
      example.set(data::kImageKey, reshape(index_select(pixels, 0, perm), shape));
      return example;
    };
    splits->train = data::map(splits->train, permute);
    splits->eval = data::map(splits->eval, permute);
  }
  RunData run;
  run.input_shape = splits->input_shape;
  run.num_classes = splits->num_classes;
  data::DatasetPtr train = limit(splits->train, d.limit_train);
  data::DatasetPtr eval = limit(splits->eval, d.limit_eval);
  run.train_examples = train->size();
  run.eval_examples = eval->size();
  if (train->size() < d.batch_size) {
    return absl::InvalidArgumentError(absl::StrCat(config.file, ": key data.batch_size (",
                                                   d.batch_size, ") exceeds the ", train->size(),
                                                   " training examples"));
  }
  if (d.shuffle) train = data::shuffle(train);

  const AugmentConfig& a = d.augment;
  const bool augments = a.random_crop_padding > 0 || a.horizontal_flip || !a.mean.empty();
  if (!splits->images && (augments || a.multiplicity > 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat(config.file, ": key data.augment applies to image datasets only"));
  }
  data::ImageAugmentOptions train_aug;
  train_aug.crop_padding = a.random_crop_padding;
  train_aug.horizontal_flip = a.horizontal_flip;
  train_aug.mean.assign(a.mean.begin(), a.mean.end());
  train_aug.std.assign(a.std.begin(), a.std.end());
  if (!a.mean.empty() && static_cast<int64_t>(a.mean.size()) != run.input_shape.back()) {
    return absl::InvalidArgumentError(absl::StrCat(config.file, ": key data.augment.mean has ",
                                                   a.mean.size(), " entries for ",
                                                   run.input_shape.back(), " channels"));
  }
  if (a.multiplicity > 1) {
    run.train_batches = data::batch_with_multiplicity(
        train, data::image_augmentation(train_aug),
        {.batch_size = d.batch_size, .multiplicity = a.multiplicity, .drop_last = true});
    if (shard.world_size > 1) {
      // The examples batch_with_multiplicity batches (its documented form).
      run.train_batches = std::make_shared<ShardedBatches>(
          data::map(data::repeat_each(train, a.multiplicity), data::image_augmentation(train_aug)),
          d.batch_size, shard);
    }
  } else {
    if (augments) train = data::map(train, data::image_augmentation(train_aug));
    run.train_batches = shard.world_size > 1
                            ? std::make_shared<ShardedBatches>(train, d.batch_size, shard)
                            : data::batch(train, d.batch_size, /*drop_last=*/true);
  }
  // Held-out data gets only the normalisation.
  if (!a.mean.empty()) {
    data::ImageAugmentOptions eval_aug;
    eval_aug.mean = train_aug.mean;
    eval_aug.std = train_aug.std;
    eval = data::map(eval, data::image_augmentation(eval_aug));
  }
  run.eval_batches = data::batch(eval, d.eval_batch_size > 0 ? d.eval_batch_size : d.batch_size);
  return run;
}

}  // namespace kiln::train
