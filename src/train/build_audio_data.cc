// The audio datasets of the generated benchmark (or any manifest in its
// format): labelled clips for classification and linear evaluation, and
// pairs of views for SimCLR pre-training.
#include <cmath>

#include "absl/strings/str_cat.h"
#include "kiln/data/audio_features.h"
#include "kiln/data/audio_manifest.h"
#include "src/train/builders.h"

namespace kiln::train {
namespace {

constexpr int64_t kSampleRate = 16000;

int64_t samples(double seconds) {
  return static_cast<int64_t>(std::lround(seconds * static_cast<double>(kSampleRate)));
}

data::LogMelOptions log_mel_options(const AudioDataConfig& a) {
  data::LogMelOptions o;
  o.sample_rate = kSampleRate;
  o.n_mels = a.n_mels;
  return o;
}

}  // namespace

DataSignature audio_data_signature(const DataConfig& d) {
  const AudioDataConfig& a = d.audio;
  const bool views = d.name == "audio_views";
  const int64_t t = samples(views && a.crop_seconds > 0 ? a.crop_seconds : a.clip_seconds);
  DataSignature s;
  s.input_shape = {t};
  if (a.features == "log_mel")
    s.input_shape = {data::num_frames(t, log_mel_options(a)), a.n_mels, 1};
  if (!views) {
    absl::StatusOr<data::AudioManifest> manifest = data::read_audio_manifest(d.path);
    s.num_classes = manifest.ok() ? static_cast<int64_t>(manifest->classes.size()) : d.num_classes;
  }
  return s;
}

absl::StatusOr<AudioSplits> load_audio_splits(const ExperimentConfig& config) {
  const DataConfig& d = config.data;
  const AudioDataConfig& a = d.audio;
  if (d.path.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(config.file,
                     ": key data.path (a manifest, e.g. runs/audio_bench/speech_word.csv) is "
                     "required for dataset ",
                     d.name));
  }
  const bool views = d.name == "audio_views";
  absl::StatusOr<data::AudioManifest> manifest = data::read_audio_manifest(d.path, !views);
  if (!manifest.ok()) return manifest.status();
  const int64_t clip = samples(a.clip_seconds);
  absl::StatusOr<data::AudioClips> train =
      data::load_audio_clips(*manifest, "train", kSampleRate, clip);
  if (!train.ok()) return train.status();
  absl::StatusOr<data::AudioClips> test =
      data::load_audio_clips(*manifest, "test", kSampleRate, clip);
  if (!test.ok()) return test.status();

  data::AudioFeatureOptions features;
  features.log_mel = a.features == "log_mel";
  features.log_mel_options = log_mel_options(a);
  if (features.log_mel && a.standardize) {
    std::tie(features.mean, features.std) =
        data::log_mel_stats(train->waveforms, features.log_mel_options);
  }
  AudioSplits s;
  s.input_shape = audio_data_signature(d).input_shape;
  if (views) {
    data::AudioViewsOptions v;
    v.features = features;
    v.crop_samples = a.crop_seconds > 0 ? samples(a.crop_seconds) : 0;
    v.augment = {.gain = a.gain,
                 .min_gain_db = a.min_gain_db,
                 .max_gain_db = a.max_gain_db,
                 .noise = a.noise,
                 .min_snr_db = a.min_snr_db,
                 .max_snr_db = a.max_snr_db};
    s.train = data::audio_views_dataset(*train, v);
    s.eval = data::audio_views_dataset(*test, v);
  } else {
    s.train = data::audio_clips_dataset(*train, features);
    s.eval = data::audio_clips_dataset(*test, features);
    s.num_classes = static_cast<int64_t>(manifest->classes.size());
  }
  return s;
}

}  // namespace kiln::train
