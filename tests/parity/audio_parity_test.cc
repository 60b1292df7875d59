// kiln's log-mel features and resampler against the independent numpy
// implementation in tools/golden/audio.py (fixtures audio_*.safetensors).
//
// The expected values are float64 results from the same f32 waveform. kiln
// computes the STFT and filterbank in double and rounds once to f32, so
// spectra and log-mels agree to f32 rounding; the resampler's taps are f32,
// which costs about 1e-7 of the signal. The f32 parity tolerance (atol 1e-5,
// rtol 1e-5) covers both.
#include <gtest/gtest.h>

#include <string>

#include "kiln/data/audio.h"
#include "kiln/data/audio_features.h"
#include "tests/parity/golden.h"

namespace kiln::parity {
namespace {

data::LogMelOptions options_of(const Golden& g) {
  data::LogMelOptions o;
  o.sample_rate = g.meta_int("sample_rate");
  o.frame_length = g.meta_int("frame_length");
  o.hop_length = g.meta_int("hop_length");
  o.n_fft = g.meta_int("n_fft");
  o.n_mels = g.meta_int("n_mels");
  o.f_min = g.meta_double("f_min");
  o.f_max = g.meta_double("f_max");
  const std::string spectrum = g.meta("spectrum");
  KILN_CHECK(spectrum == "magnitude" || spectrum == "power", "fixture ", g.name(),
             ": unknown spectrum '", spectrum, "'");
  o.spectrum = spectrum == "power" ? data::SpectrumKind::kPower : data::SpectrumKind::kMagnitude;
  o.log_offset = g.meta_double("log_offset");
  return o;
}

class LogMelParity : public ::testing::TestWithParam<std::string> {};

TEST_P(LogMelParity, MatchesNumpy) {
  const Golden g = Golden::load(GetParam());
  const data::LogMelOptions o = options_of(g);
  const Tensor waveform = g.get("waveform", DType::kF32);
  const Tolerance tol = tolerance(DType::kF32);
  EXPECT_TRUE(all_close(data::spectrogram(waveform, o), g.raw("spectrogram"), tol))
      << "spectrogram";
  if (g.has("filterbank")) {
    EXPECT_TRUE(all_close(data::mel_filterbank(o), g.raw("filterbank"), tol)) << "filterbank";
  }
  EXPECT_TRUE(all_close(data::log_mel_spectrogram(waveform, o), g.raw("log_mel"), tol))
      << "log_mel";
}

// The default fixture must pin kiln's defaults, or it tests something else.
TEST(LogMelDefaults, DefaultFixtureUsesTheDefaults) {
  const data::LogMelOptions o = options_of(Golden::load("audio_log_mel_default"));
  const data::LogMelOptions d;
  EXPECT_EQ(o.sample_rate, d.sample_rate);
  EXPECT_EQ(o.frame_length, d.frame_length);
  EXPECT_EQ(o.hop_length, d.hop_length);
  EXPECT_EQ(o.n_fft, d.n_fft);
  EXPECT_EQ(o.n_mels, d.n_mels);
  EXPECT_EQ(o.f_min, d.f_min);
  EXPECT_EQ(o.f_max, d.f_max);
  EXPECT_EQ(o.spectrum, d.spectrum);
  EXPECT_EQ(o.log_offset, d.log_offset);
}

INSTANTIATE_TEST_SUITE_P(Audio, LogMelParity,
                         ::testing::Values("audio_log_mel_default", "audio_log_mel_power"));

class ResampleParity : public ::testing::TestWithParam<std::string> {};

TEST_P(ResampleParity, MatchesNumpy) {
  const Golden g = Golden::load(GetParam());
  data::ResampleOptions o;
  o.zero_crossings = g.meta_int("zero_crossings");
  o.kaiser_beta = g.meta_double("kaiser_beta");
  o.rolloff = g.meta_double("rolloff");
  const Tensor y =
      data::resample(g.get("x", DType::kF32), g.meta_int("from_rate"), g.meta_int("to_rate"), o);
  EXPECT_TRUE(all_close(y, g.raw("y"), tolerance(DType::kF32)));
}

INSTANTIATE_TEST_SUITE_P(Audio, ResampleParity,
                         ::testing::Values("audio_resample_down", "audio_resample_up"));

}  // namespace
}  // namespace kiln::parity
