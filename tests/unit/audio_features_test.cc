// Log-mel features: frame counts, the filterbank's shape, a tone's energy in
// the right FFT bin and mel filter, silence at the log offset, and the
// transform for map(). The numbers against an independent implementation
// are in tests/parity/audio_parity_test.cc.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "kiln/core/error.h"
#include "kiln/data/audio_features.h"

namespace kiln::data {
namespace {

Tensor sine(double freq, int64_t rate, int64_t n, double amplitude) {
  std::vector<float> x(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    x[i] = static_cast<float>(amplitude * std::sin(2.0 * M_PI * freq * i / rate));
  }
  return from_vector(x, {n});
}

double mel_to_hz(double mel) { return 700.0 * std::expm1(mel / 1127.0); }
double hz_to_mel(double hz) { return 1127.0 * std::log1p(hz / 700.0); }

// Centre frequency of filter m: edge m + 1 of n_mels + 2 evenly spaced in mel.
double centre_hz(const LogMelOptions& o, int64_t m) {
  const double lo = hz_to_mel(o.f_min), hi = hz_to_mel(o.f_max);
  return mel_to_hz(lo + (hi - lo) * static_cast<double>(m + 1) / (o.n_mels + 1));
}

TEST(AudioFeatures, FrameCount) {
  const LogMelOptions o;
  EXPECT_EQ(num_frames(0, o), 0);
  EXPECT_EQ(num_frames(399, o), 0);
  EXPECT_EQ(num_frames(400, o), 1);
  EXPECT_EQ(num_frames(559, o), 1);
  EXPECT_EQ(num_frames(560, o), 2);
  EXPECT_EQ(num_frames(16000, o), 98);  // 1 s at 16 kHz: 98 frames of 10 ms
  EXPECT_EQ(log_mel_spectrogram(zeros({16000}), o).shape(), (Shape{98, 80}));
  EXPECT_EQ(spectrogram(zeros({16000}), o).shape(), (Shape{98, 257}));
  EXPECT_EQ(log_mel_spectrogram(zeros({100}), o).shape(), (Shape{0, 80}));
}

TEST(AudioFeatures, RejectsBadOptionsAndInputs) {
  LogMelOptions o;
  o.n_fft = 256;  // below frame_length 400
  EXPECT_THROW(mel_filterbank(o), Error);
  o = {};
  o.f_max = 9000.0;  // above Nyquist
  EXPECT_THROW(log_mel_spectrogram(zeros({1000}), o), Error);
  o = {};
  o.log_offset = 0.0;
  EXPECT_THROW(check_log_mel_options(o), Error);
  EXPECT_THROW(log_mel_spectrogram(zeros({2, 1000}), LogMelOptions{}), Error);
}

// Triangles peak near 1 at their centres, vanish outside [f_min, f_max], and
// every filter sees at least one FFT bin.
TEST(AudioFeatures, FilterbankShape) {
  const LogMelOptions o;
  const Tensor fb = mel_filterbank(o);
  ASSERT_EQ(fb.shape(), (Shape{257, 80}));
  const std::vector<double> w = to_vector(fb);
  for (int64_t m = 0; m < o.n_mels; ++m) {
    double peak = 0;
    for (int64_t k = 0; k < 257; ++k) {
      const double hz = k * 16000.0 / 512.0;
      const double v = w[k * o.n_mels + m];
      ASSERT_GE(v, 0.0);
      if (hz <= o.f_min || hz >= o.f_max) {
        ASSERT_EQ(v, 0.0) << "bin " << k << " filter " << m;
      }
      peak = std::max(peak, v);
    }
    EXPECT_GT(peak, 0.0) << "filter " << m << " sees no bin";
    EXPECT_LE(peak, 1.0);
  }
  // Filters wider than a bin (spacing grows with frequency) reach 1 closely.
  double top_peak = 0;
  for (int64_t k = 0; k < 257; ++k) top_peak = std::max(top_peak, w[k * o.n_mels + 70]);
  EXPECT_GT(top_peak, 0.9);
}

// A sine of amplitude A at FFT bin frequency with a whole number of periods
// per frame: periodic Hann gives |X| = A * frame_length / 4 at that bin.
TEST(AudioFeatures, ToneLandsInItsFftBin) {
  LogMelOptions o;
  const Tensor spec = spectrogram(sine(1000.0, 16000, 4000, 0.5), o);  // bin 32
  const std::vector<double> s = to_vector(spec);
  const int64_t bins = 257;
  for (int64_t f = 0; f < spec.size(0); ++f) {
    const double* row = s.data() + f * bins;
    EXPECT_EQ(std::max_element(row, row + bins) - row, 32) << "frame " << f;
    EXPECT_NEAR(row[32], 0.5 * 400 / 4, 1e-3) << "frame " << f;
    EXPECT_LT(row[20], 1e-3 * row[32]) << "frame " << f;  // Hann sidelobes, 12 bins away
  }
  o.spectrum = SpectrumKind::kPower;
  const std::vector<double> p = to_vector(spectrogram(sine(1000.0, 16000, 4000, 0.5), o));
  for (size_t i = 0; i < p.size(); ++i) ASSERT_NEAR(p[i], s[i] * s[i], 1e-4 * (1 + p[i])) << i;
}

// A tone at the centre frequency of filter m peaks in filter m, for filters
// across the range. (Below about 350 Hz the default filters are narrower than
// the 31.25 Hz FFT bins, so neighbours there see nearly the same bins.)
TEST(AudioFeatures, PureTonePeaksInItsMelBin) {
  const LogMelOptions o;
  for (const int64_t m : {12, 25, 40, 60, 75}) {
    const double hz = centre_hz(o, m);
    const Tensor features = log_mel_spectrogram(sine(hz, 16000, 8000, 0.3), o);
    const std::vector<double> v = to_vector(features);
    for (int64_t f = 0; f < features.size(0); ++f) {
      const double* row = v.data() + f * o.n_mels;
      ASSERT_EQ(std::max_element(row, row + o.n_mels) - row, m)
          << "tone " << hz << " Hz, frame " << f;
    }
  }
}

TEST(AudioFeatures, SilenceIsTheLogOffset) {
  LogMelOptions o;
  o.log_offset = 1e-5;
  for (const double v : to_vector(log_mel_spectrogram(zeros({2000}), o))) {
    ASSERT_FLOAT_EQ(static_cast<float>(v), static_cast<float>(std::log(1e-5)));
  }
}

TEST(AudioFeatures, TransformReplacesTheWaveform) {
  const LogMelOptions o;
  const Transform t = log_mel_transform(o);
  Generator gen(3);
  Example example;
  const Tensor audio = sine(440.0, 16000, 1600, 0.5);
  example.set(kAudioKey, audio);
  example.set("label", scalar_tensor(2, DType::kI64));
  const Example out = t(example, gen);
  EXPECT_FALSE(out.contains(kAudioKey));
  EXPECT_TRUE(out.contains("label"));
  EXPECT_EQ(to_vector(out.at(kLogMelKey)), to_vector(log_mel_spectrogram(audio, o)));
  EXPECT_EQ(gen.offset(), 0u);  // draws nothing
}

}  // namespace
}  // namespace kiln::data
