// Audio clips listed in a manifest, and the datasets made of them: labelled
// clips for supervised training and linear evaluation, and pairs of augmented
// views of unlabelled clips for SimCLR pre-training (HARES, papers.md
// section 5). audio_bench.h writes manifests in this format.
//
// A manifest is a CSV file: a header naming the columns, then one clip per
// line. "path" (relative to the manifest's directory, or absolute) and
// "split" ("train" or "test") are required, "label" (a class name) for
// labelled use; other columns are ignored. Fields are plain (no quoting, no
// commas inside); blank lines are skipped. The classes are the distinct
// labels in sorted order, over all splits, so every split numbers them alike.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "kiln/data/audio_augment.h"
#include "kiln/data/audio_features.h"
#include "kiln/data/dataset.h"
#include "kiln/tensor/tensor.h"

namespace kiln::data {

inline constexpr char kView1Key[] = "view1";
inline constexpr char kView2Key[] = "view2";

struct AudioManifestRow {
  std::string path;  // resolved against the manifest's directory
  std::string label;
  std::string split;
  int64_t line = 0;  // 1-based, in the manifest
};

struct AudioManifest {
  std::string file;
  std::vector<AudioManifestRow> rows;
  std::vector<std::string> classes;  // sorted distinct labels; empty without labels
};

// Parses and checks a manifest (not the audio files). NotFound for a missing
// file; InvalidArgument naming the file, line and column for a missing
// header column, a wrong number of fields, an empty path or label, or a
// split other than train / test.
absl::StatusOr<AudioManifest> read_audio_manifest(const std::string& path,
                                                  bool require_labels = true);

struct AudioClips {
  Tensor waveforms;  // (N, T) f32 at the requested rate, cut or zero-padded to T
  Tensor labels;     // (N) i64 class indices into the manifest's classes, -1 unlabelled
};

// The clips of `split` decoded (read_audio), resampled to `sample_rate` and
// cut or padded at the end to `num_samples`. Errors name the manifest and
// line as well as read_audio's file and problem (missing, truncated,
// unreadable), and a split without clips.
absl::StatusOr<AudioClips> load_audio_clips(const AudioManifest& manifest, const std::string& split,
                                            int64_t sample_rate, int64_t num_samples);

// What examples hold: the log-mel spectrogram, standardised by one mean and
// std, as an image (F, n_mels, 1) under "image"; or the waveform (T) under
// "audio".
struct AudioFeatureOptions {
  bool log_mel = true;
  LogMelOptions log_mel_options;
  double mean = 0.0;  // subtracted from the log-mel values,
  double std = 1.0;   // then divided by this
};

// Mean and standard deviation of the log-mel values of `waveforms` (N, T),
// for AudioFeatureOptions.
std::pair<double, double> log_mel_stats(const Tensor& waveforms, const LogMelOptions& options);

// Examples {"image": (F, n_mels, 1) f32 or "audio": (T) f32, "label": () i64},
// the features computed once here and held in memory.
DatasetPtr audio_clips_dataset(const AudioClips& clips, const AudioFeatureOptions& options);

// Two views of each clip for contrastive pre-training, drawn per (seed, epoch,
// index): each an independent random time crop of crop_samples, then random
// gain and noise as `augment` says (its key and crop_length are set here),
// then the features: {"view1", "view2"}: (F, n_mels, 1) each (or (T) for
// waveform features). Clip labels are dropped.
struct AudioViewsOptions {
  AudioFeatureOptions features;
  int64_t crop_samples = 0;  // 0: the whole clip
  AudioAugmentOptions augment;
};
DatasetPtr audio_views_dataset(const AudioClips& clips, const AudioViewsOptions& options);

}  // namespace kiln::data
