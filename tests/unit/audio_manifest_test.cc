// Audio manifests and their datasets: parsing, errors that name the file and
// line, example shapes, and SimCLR views that are two different crops of the
// same clip.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>
#include <vector>

#include "absl/status/status.h"
#include "kiln/data/audio.h"
#include "kiln/data/audio_manifest.h"
#include "support/temp_dir.h"

namespace kiln::data {
namespace {

namespace fs = std::filesystem;

class AudioManifestTest : public ::testing::Test {
 protected:
  void SetUp() override { fs::create_directories(fs::path(dir_) / "clips"); }
  std::string path(const std::string& name) const { return (fs::path(dir_) / name).string(); }
  std::string write(const std::string& name, const std::string& text) const {
    std::ofstream(path(name)) << text;
    return path(name);
  }
  // Clip k: (n) samples of a distinct noise-like sequence at 16 kHz.
  std::vector<float> clip(int k, int64_t n = 16000) const {
    std::vector<float> x(static_cast<size_t>(n));
    uint32_t s = 12345u + 977u * static_cast<uint32_t>(k);
    for (float& v : x) {
      s = s * 1664525u + 1013904223u;
      v = static_cast<float>(static_cast<int32_t>(s >> 8) - (1 << 23)) / float(1 << 25);
    }
    return x;
  }
  void write_clip(const std::string& name, int k, int64_t n = 16000) const {
    ASSERT_TRUE(write_wav(path(name), {from_vector(clip(k, n), {n}), 16000}, "clip").ok());
  }

  kiln::testing::TempDir tmp_;
  std::string dir_ = tmp_.path().string();
};

TEST_F(AudioManifestTest, ParsesRowsClassesAndRelativePaths) {
  const std::string m = write("m.csv",
                              "path,label,split,domain\n"
                              "clips/a.wav,yes,train,speech\n"
                              "\n"
                              "clips/b.wav,no,test,speech\r\n"
                              "/abs/c.wav,maybe,train,speech\n");
  absl::StatusOr<AudioManifest> got = read_audio_manifest(m);
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->rows.size(), 3u);
  EXPECT_EQ(got->rows[0].path, path("clips/a.wav"));
  EXPECT_EQ(got->rows[1].split, "test");
  EXPECT_EQ(got->rows[1].line, 4);
  EXPECT_EQ(got->rows[2].path, "/abs/c.wav");
  EXPECT_EQ(got->classes, (std::vector<std::string>{"maybe", "no", "yes"}));
  // Unlabelled manifests need no label column.
  const std::string pool = write("pool.csv", "path,split\nclips/a.wav,train\n");
  EXPECT_TRUE(read_audio_manifest(pool, /*require_labels=*/false).ok());
  EXPECT_FALSE(read_audio_manifest(pool).ok());
}

TEST_F(AudioManifestTest, BadManifestsNameFileLineAndProblem) {
  auto error = [&](const std::string& text) {
    absl::StatusOr<AudioManifest> got = read_audio_manifest(write("bad.csv", text));
    EXPECT_FALSE(got.ok());
    return std::string(got.status().message());
  };
  EXPECT_EQ(read_audio_manifest(path("missing.csv")).status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(error("file,label,split\n").find("no \"path\" column"), std::string::npos);
  EXPECT_NE(error("path,label,split\na.wav,yes\n").find("bad.csv:2: 2 fields"), std::string::npos);
  EXPECT_NE(error("path,label,split\na.wav,yes,valid\n").find("split \"valid\""),
            std::string::npos);
  EXPECT_NE(error("path,label,split\na.wav,yes,train\nb.wav,,test\n").find(":3: empty label"),
            std::string::npos);
  EXPECT_NE(error("path,label,split\n,yes,train\n").find("empty path"), std::string::npos);
  EXPECT_NE(error("").find("empty manifest"), std::string::npos);
}

TEST_F(AudioManifestTest, MissingOrTruncatedClipsNameManifestLineAndFile) {
  write_clip("clips/a.wav", 0);
  write_clip("clips/t.wav", 1);
  // Cut the second WAV's data short.
  fs::resize_file(path("clips/t.wav"), fs::file_size(path("clips/t.wav")) - 1000);
  const std::string m = write("m.csv",
                              "path,label,split\nclips/a.wav,x,train\nclips/gone.wav,y,train\n"
                              "clips/t.wav,y,test\n");
  absl::StatusOr<AudioManifest> manifest = read_audio_manifest(m);
  ASSERT_TRUE(manifest.ok());
  absl::StatusOr<AudioClips> train = load_audio_clips(*manifest, "train", 16000, 16000);
  ASSERT_EQ(train.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(train.status().message().find("m.csv:3: "), std::string::npos);
  EXPECT_NE(train.status().message().find("gone.wav"), std::string::npos);
  absl::StatusOr<AudioClips> test = load_audio_clips(*manifest, "test", 16000, 16000);
  ASSERT_EQ(test.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(test.status().message().find("m.csv:4: "), std::string::npos);
  EXPECT_NE(test.status().message().find("truncated"), std::string::npos);
}

TEST_F(AudioManifestTest, LabelledDatasetShapes) {
  write_clip("clips/a.wav", 0);
  write_clip("clips/b.wav", 1, 12000);  // shorter: padded to 1 s
  write_clip("clips/c.wav", 2, 20000);  // longer: cut
  absl::StatusOr<AudioManifest> m = read_audio_manifest(
      write("m.csv",
            "path,label,split\nclips/a.wav,b,train\nclips/b.wav,a,train\nclips/c.wav,b,train\n"));
  ASSERT_TRUE(m.ok());
  absl::StatusOr<AudioClips> clips = load_audio_clips(*m, "train", 16000, 16000);
  ASSERT_TRUE(clips.ok()) << clips.status();
  EXPECT_EQ(clips->waveforms.shape(), (Shape{3, 16000}));
  EXPECT_EQ(to_vector(clips->labels), (std::vector<double>{1, 0, 1}));

  AudioFeatureOptions f;
  const auto [mean, std] = log_mel_stats(clips->waveforms, f.log_mel_options);
  f.mean = mean;
  f.std = std;
  const DatasetPtr ds = audio_clips_dataset(*clips, f);
  ASSERT_EQ(ds->size(), 3);
  const Example e = ds->get(1);
  EXPECT_EQ(e.at(kImageKey).shape(), (Shape{98, 80, 1}));  // (F, n_mels, 1)
  EXPECT_EQ(e.at(kLabelKey).dim(), 0);
  EXPECT_EQ(e.at(kLabelKey).dtype(), DType::kI64);
  // Standardised over the clips: mean 0, variance 1.
  double sum = 0, sum_sq = 0, n = 0;
  for (int64_t i = 0; i < 3; ++i) {
    for (float v : to_float_vector(ds->get(i).at(kImageKey))) {
      sum += v;
      sum_sq += double(v) * v;
      ++n;
    }
  }
  EXPECT_NEAR(sum / n, 0.0, 1e-3);
  EXPECT_NEAR(sum_sq / n, 1.0, 1e-3);

  f.log_mel = false;
  EXPECT_EQ(audio_clips_dataset(*clips, f)->get(0).at(kAudioKey).shape(), (Shape{16000}));
}

// Where `part` starts inside `whole`, or -1.
int64_t find_crop(const std::vector<float>& whole, const std::vector<float>& part) {
  const auto it = std::search(whole.begin(), whole.end(), part.begin(), part.end());
  return it == whole.end() ? -1 : it - whole.begin();
}

TEST_F(AudioManifestTest, ViewsAreTwoDifferentCropsOfTheSameClip) {
  write_clip("clips/a.wav", 0);
  write_clip("clips/b.wav", 1);
  absl::StatusOr<AudioManifest> m = read_audio_manifest(
      write("pool.csv", "path,split\nclips/a.wav,train\nclips/b.wav,train\n"), false);
  ASSERT_TRUE(m.ok());
  absl::StatusOr<AudioClips> clips = load_audio_clips(*m, "train", 16000, 16000);
  ASSERT_TRUE(clips.ok()) << clips.status();
  std::vector<std::vector<float>> wave(2);
  for (int k = 0; k < 2; ++k) {
    absl::StatusOr<Waveform> w = read_audio(path(k == 0 ? "clips/a.wav" : "clips/b.wav"));
    ASSERT_TRUE(w.ok());
    wave[k] = to_float_vector(w->samples);
  }
  // Waveform views without gain or noise are exact crops: find them.
  AudioViewsOptions o;
  o.features.log_mel = false;
  o.crop_samples = 8000;
  const DatasetPtr ds = audio_views_dataset(*clips, o);
  for (int64_t i = 0; i < 2; ++i) {
    const Example e = ds->get(i, {.seed = 3, .epoch = 1});
    ASSERT_EQ(e.at(kView1Key).shape(), (Shape{8000}));
    const int64_t at1 = find_crop(wave[i], to_float_vector(e.at(kView1Key)));
    const int64_t at2 = find_crop(wave[i], to_float_vector(e.at(kView2Key)));
    EXPECT_GE(at1, 0);
    EXPECT_GE(at2, 0);
    EXPECT_NE(at1, at2);
    EXPECT_EQ(find_crop(wave[1 - i], to_float_vector(e.at(kView1Key))), -1);
  }
  // Log-mel views with gain and noise: (F, n_mels, 1), different, and the
  // same again for the same (seed, epoch, index).
  AudioViewsOptions a;
  a.crop_samples = 8000;
  a.augment.gain = a.augment.noise = true;
  const DatasetPtr augmented = audio_views_dataset(*clips, a);
  const Example e = augmented->get(0, {.seed = 3, .epoch = 0});
  EXPECT_EQ(e.at(kView1Key).shape(), (Shape{48, 80, 1}));
  EXPECT_NE(to_float_vector(e.at(kView1Key)), to_float_vector(e.at(kView2Key)));
  EXPECT_EQ(to_float_vector(e.at(kView2Key)),
            to_float_vector(augmented->get(0, {.seed = 3, .epoch = 0}).at(kView2Key)));
  EXPECT_NE(to_float_vector(e.at(kView1Key)),
            to_float_vector(augmented->get(0, {.seed = 3, .epoch = 1}).at(kView1Key)));
}

TEST_F(AudioManifestTest, WavCommentRoundTrips) {
  ASSERT_TRUE(write_wav(path("c.wav"), {from_vector(clip(0, 100), {100}), 16000}, "hello").ok());
  absl::StatusOr<std::string> comment = read_audio_comment(path("c.wav"));
  ASSERT_TRUE(comment.ok());
  EXPECT_EQ(*comment, "hello");
  EXPECT_EQ(read_audio_comment(path("none.wav")).status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace kiln::data
