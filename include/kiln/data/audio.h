// Audio files as mono f32 waveforms, and resampling between sample rates.
// Files are read with libsndfile (WAV, FLAC, and the other formats it
// knows); every error names the file and the problem.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "kiln/tensor/tensor.h"

namespace kiln::data {

inline constexpr char kAudioKey[] = "audio";

// A mono waveform: samples (T) f32, integer PCM scaled to [-1, 1).
struct Waveform {
  Tensor samples;
  int64_t sample_rate = 0;  // Hz
};

// The whole file at `path`, channels mixed down to mono by averaging.
// NotFound for a missing file, InvalidArgument for a format libsndfile does
// not recognise, DataLoss for a truncated or corrupt file (fewer frames than
// the header declares, a decoder error, a WAV data chunk longer than the
// file).
absl::StatusOr<Waveform> read_audio(const std::string& path);

// Writes `waveform` (T) f32 to `path` as a 16-bit PCM mono WAV (samples
// clipped to [-1, 1]) whose comment string is `comment`, atomically: written
// under a temporary name beside `path`, then renamed over it.
absl::Status write_wav(const std::string& path, const Waveform& waveform,
                       const std::string& comment = "");

// The comment string of the audio file at `path` ("" when it has none);
// NotFound for a missing file, DataLoss for one libsndfile cannot open. Reads
// only the header: read_audio checks the samples.
absl::StatusOr<std::string> read_audio_comment(const std::string& path);

// The windowed-sinc low-pass filter resample() interpolates with.
//
// The filter's cutoff is rolloff * the lower of the two Nyquist rates; the
// sinc is cut at `zero_crossings` zero crossings on each side by a Kaiser
// window of parameter `kaiser_beta`. Response with the defaults (64, 8.6,
// 0.95), as fractions of the lower Nyquist rate (computed from the kernel):
// flat within 0.001 dB to 0.91 (7.28 kHz when resampling to 16 kHz), -0.09 dB
// at 0.92, -6 dB at the cutoff 0.95, -78 dB at 0.99 and below -88 dB from
// Nyquist on, so aliases are attenuated by 88 dB or more.
// tests/unit/audio_resample_test.cc checks passband tones to 0.01 dB and
// stopband tones to -80 dB.
struct ResampleOptions {
  int64_t zero_crossings = 64;
  double kaiser_beta = 8.6;
  double rolloff = 0.95;
};

// `samples` (T) f32 at `from_rate` Hz resampled to `to_rate` Hz: (T') with
// T' = ceil(T * to_rate / from_rate). Output sample n is the band-limited
// interpolation of the input at time n / to_rate, exactly polyphase for the
// rational ratio to_rate / from_rate (reduced by their gcd); samples before
// the start and after the end count as zero. Returns `samples` itself when
// the rates are equal. Throws kiln::Error for non-positive rates, a
// non-(T) or non-f32 input, or bad options.
Tensor resample(const Tensor& samples, int64_t from_rate, int64_t to_rate,
                const ResampleOptions& options = {});

// resample() of a waveform to `to_rate`.
Waveform resample(const Waveform& waveform, int64_t to_rate, const ResampleOptions& options = {});

}  // namespace kiln::data
