#include "kiln/data/audio_manifest.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "kiln/core/error.h"
#include "kiln/data/audio.h"
#include "kiln/io/file.h"
#include "kiln/ops/shape.h"
#include "src/data/file_util.h"

namespace kiln::data {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kViewsStream = 0x5649455753ull;  // "VIEWS"

// (F, n_mels) log-mel of `waveform` (T), standardised, as (F, n_mels, 1), or
// the waveform itself.
Tensor features(const Tensor& waveform, const AudioFeatureOptions& o) {
  if (!o.log_mel) return waveform;
  Tensor x = log_mel_spectrogram(waveform, o.log_mel_options);  // (F, n_mels), ours
  float* v = x.data<float>();
  const auto mean = static_cast<float>(o.mean), inv = static_cast<float>(1.0 / o.std);
  for (int64_t i = 0; i < x.numel(); ++i) v[i] = (v[i] - mean) * inv;
  return reshape(x, {x.size(0), x.size(1), 1});
}

// Row i of `x` (N, T): (T).
Tensor clip_row(const Tensor& x, int64_t i) { return squeeze(narrow(x, 0, i, 1), 0); }

}  // namespace

absl::StatusOr<AudioManifest> read_audio_manifest(const std::string& path, bool require_labels) {
  absl::StatusOr<std::string> text = io::read_file(path);
  if (!text.ok()) return text.status();
  AudioManifest m;
  m.file = path;
  const fs::path dir = fs::path(path).parent_path();
  std::map<std::string, int> column;
  int64_t columns = 0, line = 0;
  std::set<std::string> classes;
  auto bad = [&](const std::string& what) {
    return absl::InvalidArgumentError(absl::StrCat(path, ":", line, ": ", what));
  };
  for (absl::string_view raw : absl::StrSplit(*text, '\n')) {
    ++line;
    absl::string_view row = absl::StripSuffix(raw, "\r");
    if (absl::StripAsciiWhitespace(row).empty()) continue;
    const std::vector<std::string> fields = absl::StrSplit(row, ',');
    if (columns == 0) {
      columns = static_cast<int64_t>(fields.size());
      for (size_t i = 0; i < fields.size(); ++i) {
        column[std::string(absl::StripAsciiWhitespace(fields[i]))] = static_cast<int>(i);
      }
      for (const char* need : {"path", "split", "label"}) {
        if (!column.contains(need) && (require_labels || std::strcmp(need, "label") != 0)) {
          return bad(absl::StrCat("the header has no \"", need, "\" column (got \"", row, "\")"));
        }
      }
      continue;
    }
    if (static_cast<int64_t>(fields.size()) != columns) {
      return bad(absl::StrCat(fields.size(), " fields where the header has ", columns));
    }
    auto field = [&](const char* name) {
      auto it = column.find(name);
      return it == column.end() ? std::string()
                                : std::string(absl::StripAsciiWhitespace(fields[it->second]));
    };
    AudioManifestRow r{field("path"), field("label"), field("split"), line};
    if (r.path.empty()) return bad("empty path");
    if (r.split != "train" && r.split != "test") {
      return bad(absl::StrCat("split \"", r.split, "\" is neither train nor test"));
    }
    if (require_labels && r.label.empty()) return bad("empty label");
    if (fs::path(r.path).is_relative()) r.path = (dir / r.path).string();
    if (!r.label.empty()) classes.insert(r.label);
    m.rows.push_back(std::move(r));
  }
  if (columns == 0) return absl::InvalidArgumentError(absl::StrCat(path, ": empty manifest"));
  if (require_labels) m.classes.assign(classes.begin(), classes.end());
  return m;
}

absl::StatusOr<AudioClips> load_audio_clips(const AudioManifest& m, const std::string& split,
                                            int64_t sample_rate, int64_t num_samples) {
  KILN_CHECK(sample_rate > 0 && num_samples > 0, "load_audio_clips: bad rate ", sample_rate,
             " or length ", num_samples);
  std::vector<Tensor> waves;
  std::vector<int64_t> labels;
  for (const AudioManifestRow& r : m.rows) {
    if (r.split != split) continue;
    absl::StatusOr<Waveform> w = read_audio(r.path);
    if (!w.ok()) {
      return absl::Status(w.status().code(),
                          absl::StrCat(m.file, ":", r.line, ": ", w.status().message()));
    }
    waves.push_back(time_crop(resample(*w, sample_rate).samples, 0, num_samples));  // (T)
    const auto it = std::lower_bound(m.classes.begin(), m.classes.end(), r.label);
    labels.push_back(it != m.classes.end() && *it == r.label ? it - m.classes.begin() : -1);
  }
  if (waves.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(m.file, ": no clips in split \"", split, "\""));
  }
  AudioClips clips;
  clips.waveforms = stack(waves, 0);  // (N, T)
  clips.labels = from_vector(labels, {static_cast<int64_t>(labels.size())});
  return clips;
}

std::pair<double, double> log_mel_stats(const Tensor& waveforms, const LogMelOptions& options) {
  double sum = 0.0, sum_sq = 0.0;
  int64_t n = 0;
  for (int64_t i = 0; i < waveforms.size(0); ++i) {
    const Tensor x = log_mel_spectrogram(clip_row(waveforms, i), options);  // (F, n_mels)
    const float* v = x.data<float>();
    for (int64_t j = 0; j < x.numel(); ++j) {
      sum += v[j];
      sum_sq += static_cast<double>(v[j]) * v[j];
    }
    n += x.numel();
  }
  if (n == 0) return {0.0, 1.0};
  const double mean = sum / static_cast<double>(n);
  return {mean, std::sqrt(std::max(sum_sq / static_cast<double>(n) - mean * mean, 1e-12))};
}

DatasetPtr audio_clips_dataset(const AudioClips& clips, const AudioFeatureOptions& options) {
  std::vector<Tensor> rows;
  for (int64_t i = 0; i < clips.waveforms.size(0); ++i) {
    rows.push_back(features(clip_row(clips.waveforms, i), options));
  }
  return tensor_dataset(
      {{options.log_mel ? kImageKey : kAudioKey, stack(rows, 0)}, {kLabelKey, clips.labels}});
}

DatasetPtr audio_views_dataset(const AudioClips& clips, const AudioViewsOptions& options) {
  AudioAugmentOptions a = options.augment;
  a.key = kAudioKey;
  a.crop_length = options.crop_samples;
  const Transform augment = audio_augmentation(a);
  const AudioFeatureOptions f = options.features;
  const Transform views = [augment, f](Example example, Generator& gen) {
    Example out;
    out.set(kView1Key, features(augment(example, gen).at(kAudioKey), f));
    out.set(kView2Key, features(augment(example, gen).at(kAudioKey), f));
    return out;
  };
  return map(tensor_dataset({{kAudioKey, clips.waveforms}}), views, kViewsStream);
}

}  // namespace kiln::data
