// Log-mel spectrograms of mono waveforms, the input features of the HARES /
// Slowfast-NFNet audio models (papers.md section 5).
//
// The conventions are TensorFlow's tf.signal ones, which the Google and
// DeepMind audio work of the period used:
// - frames of frame_length samples every hop_length samples, starting at
//   sample 0 with no padding (a trailing partial frame is dropped), each
//   multiplied by a periodic Hann window, 0.5 - 0.5 cos(2 pi n / frame_length),
//   and zero-padded at the end to n_fft for a real FFT (n_fft / 2 + 1 bins,
//   bin k at k * sample_rate / n_fft Hz);
// - the HTK mel scale, mel(f) = 1127 ln(1 + f / 700), with n_mels triangular
//   filters whose edges are n_mels + 2 points evenly spaced in mel from f_min
//   to f_max; each triangle is linear in mel (not Hz) and peaks at 1 (no
//   area normalisation), as tf.signal.linear_to_mel_weight_matrix;
// - log(mel + log_offset): a small offset rather than a floor, so the
//   features stay smooth in the signal near silence.
// The defaults follow papers.md 5(b) (16 kHz, 25 ms window, 10 ms hop, 80 mel
// bins, log with a small offset; marked unverified there). n_fft is the next
// power of two. f_min / f_max are a choice made here, not from the paper:
// 60 Hz / 7.8 kHz (the range recalled, unverified, for COLA, which HARES
// builds on) keep the filters off DC and the last 200 Hz below Nyquist;
// audio resampled to 16 kHz is already rolled off above 7.3 kHz
// (ResampleOptions), which only the top two filters see.
// tools/golden/audio.py implements the same definitions independently in
// numpy; tests/parity/audio_parity_test.cc holds kiln to it.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "kiln/data/audio.h"
#include "kiln/data/dataset.h"
#include "kiln/tensor/tensor.h"

namespace kiln::data {

inline constexpr char kLogMelKey[] = "log_mel";

enum class SpectrumKind {
  kMagnitude,  // |STFT|
  kPower,      // |STFT|^2
};

struct LogMelOptions {
  int64_t sample_rate = 16000;  // Hz, of the waveforms given
  int64_t frame_length = 400;   // samples per frame: 25 ms
  int64_t hop_length = 160;     // samples between frame starts: 10 ms
  int64_t n_fft = 512;          // >= frame_length
  int64_t n_mels = 80;
  double f_min = 60.0;    // Hz, >= 0
  double f_max = 7800.0;  // Hz, in (f_min, sample_rate / 2]
  SpectrumKind spectrum = SpectrumKind::kMagnitude;
  double log_offset = 1e-6;  // > 0
};

// Throws kiln::Error naming the first bad field.
void check_log_mel_options(const LogMelOptions& options);

// Frames a waveform of `num_samples` samples gives: 0 below frame_length,
// else 1 + (num_samples - frame_length) / hop_length.
int64_t num_frames(int64_t num_samples, const LogMelOptions& options);

// Magnitude or power STFT of `waveform` (T) f32: (F, n_fft / 2 + 1) f32 with
// F = num_frames(T). Computed in double with Eigen's FFT.
Tensor spectrogram(const Tensor& waveform, const LogMelOptions& options);

// The mel filterbank: (n_fft / 2 + 1, n_mels) f32, column m the weights of
// filter m over the FFT bins.
Tensor mel_filterbank(const LogMelOptions& options);

// log(spectrogram(waveform) @ mel_filterbank + log_offset): (F, n_mels) f32,
// time first.
Tensor log_mel_spectrogram(const Tensor& waveform, const LogMelOptions& options);

// read_audio, resample to options.sample_rate (with the default
// ResampleOptions), then log_mel_spectrogram: (F, n_mels) f32.
absl::StatusOr<Tensor> load_log_mel(const std::string& path, const LogMelOptions& options);

// Replaces example[in_key] (T) f32 by its log-mel spectrogram (F, n_mels)
// under out_key, as a Transform for map(); deterministic, draws nothing.
Transform log_mel_transform(LogMelOptions options, std::string in_key = kAudioKey,
                            std::string out_key = kLogMelKey);

}  // namespace kiln::data
