// Reading audio files: WAV and FLAC written here with libsndfile directly
// come back as the mono waveform they hold; missing, foreign, truncated and
// corrupt files give errors naming the file.
#include <gtest/gtest.h>
#include <sndfile.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "kiln/data/audio.h"
#include "support/temp_dir.h"

namespace kiln::data {
namespace {

namespace fs = std::filesystem;

class AudioFiles : public ::testing::Test {
 protected:
  std::string path(const std::string& name) const { return (fs::path(dir_) / name).string(); }

  kiln::testing::TempDir tmp_;
  std::string dir_ = tmp_.path().string();
};

// Interleaved frames (frames * channels) to `path` in `format`.
void write_audio(const std::string& path, int format, int channels, int sample_rate,
                 const std::vector<float>& interleaved) {
  SF_INFO info{};
  info.samplerate = sample_rate;
  info.channels = channels;
  info.format = format;
  SNDFILE* f = sf_open(path.c_str(), SFM_WRITE, &info);
  ASSERT_NE(f, nullptr) << sf_strerror(nullptr);
  const sf_count_t frames = static_cast<sf_count_t>(interleaved.size()) / channels;
  if ((format & SF_FORMAT_SUBMASK) == SF_FORMAT_PCM_16) {
    // libsndfile's FLAC writer scales floats by 32767 but its readers divide
    // by 32768: write the 16-bit values themselves (the samples here are
    // multiples of 1 / 32768) so the round trip tests the reader alone.
    std::vector<short> pcm(interleaved.size());
    for (size_t i = 0; i < pcm.size(); ++i) {
      pcm[i] = static_cast<short>(std::lround(interleaved[i] * 32768.0f));
    }
    EXPECT_EQ(sf_writef_short(f, pcm.data(), frames), frames);
  } else {
    EXPECT_EQ(sf_writef_float(f, interleaved.data(), frames), frames);
  }
  sf_close(f);
}

// A 440 Hz tone, amplitude 0.5, quantised to 16 bits (so it survives PCM_16
// exactly).
std::vector<float> tone(int64_t n, int sample_rate) {
  std::vector<float> x(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const double v = 0.5 * std::sin(2.0 * M_PI * 440.0 * static_cast<double>(i) / sample_rate);
    x[i] = static_cast<float>(std::round(v * 32768.0) / 32768.0);
  }
  return x;
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// The status is an error of `code` whose message names `path`.
void expect_error(const absl::StatusOr<Waveform>& result, absl::StatusCode code,
                  const std::string& path) {
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), code) << result.status();
  EXPECT_NE(result.status().message().find(path), std::string::npos) << result.status();
}

TEST_F(AudioFiles, WavRoundTripIsExactFor16BitSamples) {
  const std::vector<float> x = tone(1000, 16000);
  write_audio(path("a.wav"), SF_FORMAT_WAV | SF_FORMAT_PCM_16, 1, 16000, x);
  absl::StatusOr<Waveform> w = read_audio(path("a.wav"));
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(w->sample_rate, 16000);
  ASSERT_EQ(w->samples.shape(), (Shape{1000}));
  EXPECT_EQ(w->samples.dtype(), DType::kF32);
  EXPECT_EQ(to_float_vector(w->samples), x);
}

TEST_F(AudioFiles, FloatWavRoundTripIsExact) {
  std::vector<float> x = {0.0f, 0.1f, -0.25f, 0.999f, -1.0f, 1.5f};  // float WAV may exceed 1
  write_audio(path("f.wav"), SF_FORMAT_WAV | SF_FORMAT_FLOAT, 1, 22050, x);
  absl::StatusOr<Waveform> w = read_audio(path("f.wav"));
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(w->sample_rate, 22050);
  EXPECT_EQ(to_float_vector(w->samples), x);
}

TEST_F(AudioFiles, FlacRoundTripIsExact) {
  const std::vector<float> x = tone(5000, 44100);
  write_audio(path("a.flac"), SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 1, 44100, x);
  absl::StatusOr<Waveform> w = read_audio(path("a.flac"));
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(w->sample_rate, 44100);
  EXPECT_EQ(to_float_vector(w->samples), x);
}

TEST_F(AudioFiles, StereoIsMixedDownByAveraging) {
  const std::vector<float> left = tone(300, 16000);
  std::vector<float> interleaved;
  for (size_t i = 0; i < left.size(); ++i) {
    interleaved.push_back(left[i]);
    interleaved.push_back(i % 2 ? 0.25f : -0.125f);
  }
  for (const char* name : {"s.wav", "s.flac"}) {
    const int format = std::string(name).ends_with(".wav") ? SF_FORMAT_WAV | SF_FORMAT_PCM_16
                                                           : SF_FORMAT_FLAC | SF_FORMAT_PCM_16;
    write_audio(path(name), format, 2, 16000, interleaved);
    absl::StatusOr<Waveform> w = read_audio(path(name));
    ASSERT_TRUE(w.ok()) << w.status();
    const std::vector<float> mono = to_float_vector(w->samples);
    ASSERT_EQ(mono.size(), left.size()) << name;
    for (size_t i = 0; i < left.size(); ++i) {
      ASSERT_EQ(mono[i], (left[i] + (i % 2 ? 0.25f : -0.125f)) * 0.5f) << name << " frame " << i;
    }
  }
}

TEST_F(AudioFiles, EmptyAudioGivesAnEmptyWaveform) {
  write_audio(path("e.wav"), SF_FORMAT_WAV | SF_FORMAT_PCM_16, 1, 8000, {});
  absl::StatusOr<Waveform> w = read_audio(path("e.wav"));
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(w->samples.shape(), (Shape{0}));
}

TEST_F(AudioFiles, MissingFileIsNotFound) {
  expect_error(read_audio(path("nope.wav")), absl::StatusCode::kNotFound, path("nope.wav"));
  expect_error(read_audio(dir_), absl::StatusCode::kInvalidArgument, dir_);
}

TEST_F(AudioFiles, ForeignFileIsInvalidArgument) {
  write_bytes(path("text.wav"), "this is not audio, just some text long enough to look at\n");
  expect_error(read_audio(path("text.wav")), absl::StatusCode::kInvalidArgument, path("text.wav"));
  write_bytes(path("empty.flac"), "");
  const absl::StatusOr<Waveform> empty = read_audio(path("empty.flac"));
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.status().message().find(path("empty.flac")), std::string::npos) << empty.status();
}

TEST_F(AudioFiles, TruncatedWavIsDataLoss) {
  write_audio(path("a.wav"), SF_FORMAT_WAV | SF_FORMAT_PCM_16, 1, 16000, tone(1000, 16000));
  const std::string bytes = read_bytes(path("a.wav"));
  write_bytes(path("cut.wav"), bytes.substr(0, bytes.size() / 2));
  expect_error(read_audio(path("cut.wav")), absl::StatusCode::kDataLoss, path("cut.wav"));
  // Cut inside the header: libsndfile finds no data chunk.
  write_bytes(path("head.wav"), bytes.substr(0, 30));
  expect_error(read_audio(path("head.wav")), absl::StatusCode::kDataLoss, path("head.wav"));
}

TEST_F(AudioFiles, TruncatedOrCorruptFlacIsDataLoss) {
  write_audio(path("a.flac"), SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 1, 16000, tone(16000, 16000));
  const std::string bytes = read_bytes(path("a.flac"));
  write_bytes(path("cut.flac"), bytes.substr(0, bytes.size() / 2));
  expect_error(read_audio(path("cut.flac")), absl::StatusCode::kDataLoss, path("cut.flac"));
  std::string corrupt = bytes;
  for (size_t i = bytes.size() / 3; i < bytes.size() / 2; ++i)
    corrupt[i] = static_cast<char>(i * 7);
  write_bytes(path("bad.flac"), corrupt);
  expect_error(read_audio(path("bad.flac")), absl::StatusCode::kDataLoss, path("bad.flac"));
}

}  // namespace
}  // namespace kiln::data
