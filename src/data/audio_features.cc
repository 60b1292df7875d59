// Log-mel spectrograms: framing, periodic Hann window, real FFT (Eigen's
// kissfft backend, in double), HTK mel filterbank, log with an offset. The
// definitions are documented in include/kiln/data/audio_features.h.
#include "kiln/data/audio_features.h"

#include <algorithm>
#include <cmath>
#include <complex>
#include <cstdint>
#include <numbers>
#include <string>
#include <utility>
#include <vector>

#include <unsupported/Eigen/FFT>

#include "kiln/core/error.h"

namespace kiln::data {
namespace {

double hz_to_mel(double hz) { return 1127.0 * std::log1p(hz / 700.0); }

// Weights (n_fft / 2 + 1) x n_mels, row-major, in double.
std::vector<double> filterbank_weights(const LogMelOptions& o) {
  const int64_t bins = o.n_fft / 2 + 1;
  const double mel_lo = hz_to_mel(o.f_min);
  const double mel_hi = hz_to_mel(o.f_max);
  std::vector<double> edges(static_cast<size_t>(o.n_mels + 2));
  for (int64_t e = 0; e < o.n_mels + 2; ++e) {
    edges[e] = mel_lo + (mel_hi - mel_lo) * static_cast<double>(e) / (o.n_mels + 1);
  }
  std::vector<double> w(static_cast<size_t>(bins * o.n_mels), 0.0);
  for (int64_t k = 0; k < bins; ++k) {
    const double mel =
        hz_to_mel(static_cast<double>(k) * static_cast<double>(o.sample_rate) / o.n_fft);
    for (int64_t m = 0; m < o.n_mels; ++m) {
      const double lower = (mel - edges[m]) / (edges[m + 1] - edges[m]);
      const double upper = (edges[m + 2] - mel) / (edges[m + 2] - edges[m + 1]);
      w[k * o.n_mels + m] = std::max(0.0, std::min(lower, upper));
    }
  }
  return w;
}

// |STFT| or |STFT|^2: (F, n_fft / 2 + 1) row-major, in double.
std::vector<double> spectrum_values(const Tensor& waveform, const LogMelOptions& o,
                                    int64_t* frames_out) {
  KILN_CHECK(waveform.defined() && waveform.dim() == 1 && waveform.dtype() == DType::kF32,
             "spectrogram: expects a (T) f32 waveform, got ",
             waveform.defined() ? shape_str(waveform.shape()) : "undefined", " ",
             waveform.defined() ? dtype_name(waveform.dtype()) : "");
  check_log_mel_options(o);
  const Tensor src = as_contiguous(waveform);
  const float* x = src.data<float>();
  const int64_t frames = num_frames(waveform.size(0), o);
  const int64_t bins = o.n_fft / 2 + 1;
  *frames_out = frames;

  std::vector<double> window(static_cast<size_t>(o.frame_length));
  for (int64_t n = 0; n < o.frame_length; ++n) {
    window[n] = 0.5 - 0.5 * std::cos(2.0 * std::numbers::pi * static_cast<double>(n) /
                                     static_cast<double>(o.frame_length));
  }
  // One FFT object per call: Eigen's caches its plans in the object, which
  // makes sharing it across threads unsafe.
  Eigen::FFT<double> fft;
  fft.SetFlag(Eigen::FFT<double>::HalfSpectrum);
  std::vector<double> frame(static_cast<size_t>(o.n_fft), 0.0);  // zero tail stays zero
  std::vector<std::complex<double>> bins_out;
  std::vector<double> out(static_cast<size_t>(frames * bins));
  for (int64_t f = 0; f < frames; ++f) {
    const float* start = x + f * o.hop_length;
    for (int64_t n = 0; n < o.frame_length; ++n) frame[n] = window[n] * start[n];
    fft.fwd(bins_out, frame);
    KILN_CHECK(static_cast<int64_t>(bins_out.size()) == bins, "spectrogram: FFT gave ",
               bins_out.size(), " bins, expected ", bins);
    double* row = out.data() + f * bins;
    for (int64_t k = 0; k < bins; ++k) {
      const double power = std::norm(bins_out[k]);
      row[k] = o.spectrum == SpectrumKind::kPower ? power : std::sqrt(power);
    }
  }
  return out;
}

Tensor to_f32(const std::vector<double>& values, int64_t rows, int64_t cols) {
  Tensor out = Tensor::empty({rows, cols}, DType::kF32);
  float* dst = out.data<float>();
  for (size_t i = 0; i < values.size(); ++i) dst[i] = static_cast<float>(values[i]);
  return out;
}

}  // namespace

void check_log_mel_options(const LogMelOptions& o) {
  KILN_CHECK(o.sample_rate > 0, "log-mel: sample_rate must be > 0, got ", o.sample_rate);
  KILN_CHECK(o.frame_length > 0, "log-mel: frame_length must be > 0, got ", o.frame_length);
  KILN_CHECK(o.hop_length > 0, "log-mel: hop_length must be > 0, got ", o.hop_length);
  KILN_CHECK(o.n_fft >= o.frame_length, "log-mel: n_fft ", o.n_fft, " must be >= frame_length ",
             o.frame_length);
  KILN_CHECK(o.n_mels > 0, "log-mel: n_mels must be > 0, got ", o.n_mels);
  KILN_CHECK(o.f_min >= 0.0 && o.f_min < o.f_max && o.f_max <= 0.5 * o.sample_rate,
             "log-mel: need 0 <= f_min < f_max <= sample_rate / 2, got f_min ", o.f_min, ", f_max ",
             o.f_max, ", sample_rate ", o.sample_rate);
  KILN_CHECK(o.log_offset > 0.0, "log-mel: log_offset must be > 0, got ", o.log_offset);
}

int64_t num_frames(int64_t num_samples, const LogMelOptions& options) {
  if (num_samples < options.frame_length) return 0;
  return 1 + (num_samples - options.frame_length) / options.hop_length;
}

Tensor spectrogram(const Tensor& waveform, const LogMelOptions& options) {
  int64_t frames = 0;
  const std::vector<double> spec = spectrum_values(waveform, options, &frames);
  return to_f32(spec, frames, options.n_fft / 2 + 1);
}

Tensor mel_filterbank(const LogMelOptions& options) {
  check_log_mel_options(options);
  return to_f32(filterbank_weights(options), options.n_fft / 2 + 1, options.n_mels);
}

Tensor log_mel_spectrogram(const Tensor& waveform, const LogMelOptions& options) {
  int64_t frames = 0;
  const std::vector<double> spec = spectrum_values(waveform, options, &frames);
  const std::vector<double> weights = filterbank_weights(options);
  const int64_t bins = options.n_fft / 2 + 1, mels = options.n_mels;
  // Each filter covers a few bins: keep its non-zero range.
  std::vector<int64_t> first(static_cast<size_t>(mels), bins), last(static_cast<size_t>(mels), 0);
  for (int64_t k = 0; k < bins; ++k) {
    for (int64_t m = 0; m < mels; ++m) {
      if (weights[k * mels + m] != 0.0) {
        first[m] = std::min(first[m], k);
        last[m] = k + 1;
      }
    }
  }
  Tensor out = Tensor::empty({frames, mels}, DType::kF32);
  float* dst = out.data<float>();
  for (int64_t f = 0; f < frames; ++f) {
    const double* row = spec.data() + f * bins;
    for (int64_t m = 0; m < mels; ++m) {
      double mel = 0.0;
      for (int64_t k = first[m]; k < last[m]; ++k) mel += row[k] * weights[k * mels + m];
      dst[f * mels + m] = static_cast<float>(std::log(mel + options.log_offset));
    }
  }
  return out;
}

absl::StatusOr<Tensor> load_log_mel(const std::string& path, const LogMelOptions& options) {
  check_log_mel_options(options);
  absl::StatusOr<Waveform> waveform = read_audio(path);
  if (!waveform.ok()) return waveform.status();
  const Waveform at_rate = resample(*waveform, options.sample_rate);
  return log_mel_spectrogram(at_rate.samples, options);
}

Transform log_mel_transform(LogMelOptions options, std::string in_key, std::string out_key) {
  check_log_mel_options(options);
  return [o = std::move(options), in = std::move(in_key), out = std::move(out_key)](Example example,
                                                                                    Generator&) {
    Tensor features = log_mel_spectrogram(example.at(in), o);
    if (in != out) example.erase(in);
    example.set(out, std::move(features));
    return example;
  };
}

}  // namespace kiln::data
