// Audio augmentations. Every random function reserves exactly one Philox
// block: uniform draws use its lanes, noise uses a key derived from it, so
// the counters a chain consumes never depend on the data.
#include "kiln/data/audio_augment.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <utility>

#include "kiln/core/error.h"
#include "src/data/random_util.h"

namespace kiln::data {
namespace {

inline constexpr uint64_t kNoiseTag = 0x4e4f495345ull;  // "NOISE"

void check_waveform(const Tensor& x, const char* op) {
  KILN_CHECK(x.defined() && x.dim() == 1 && x.dtype() == DType::kF32, op,
             ": expects a (T) f32 waveform, got ", x.defined() ? shape_str(x.shape()) : "undefined",
             " ", x.defined() ? dtype_name(x.dtype()) : "");
}

void check_range(double lo, double hi, const char* op, const char* what) {
  KILN_CHECK(std::isfinite(lo) && std::isfinite(hi) && lo <= hi, op, ": ", what, " range [", lo,
             ", ", hi, "] must be finite with min <= max");
}

uint64_t bits64(const std::array<uint32_t, 4>& r, int a) {
  return (static_cast<uint64_t>(r[a + 1]) << 32) | r[a];
}

// Uniform in [lo, hi] from 53 random bits.
double uniform(uint64_t bits, double lo, double hi) {
  return lo + (hi - lo) * (static_cast<double>(bits >> 11) * 0x1.0p-53);
}

}  // namespace

Tensor time_crop(const Tensor& x, int64_t start, int64_t length) {
  KILN_CHECK(x.defined() && x.dim() >= 1, "time_crop: expects (T, ...), got ",
             x.defined() ? shape_str(x.shape()) : "undefined");
  KILN_CHECK(start >= 0 && length >= 0, "time_crop: start ", start, " and length ", length,
             " must be >= 0");
  const int64_t t = x.size(0);
  const Tensor src = as_contiguous(x);
  Shape shape = x.shape();
  shape[0] = length;
  Tensor out = zeros(shape, x.dtype());
  const int64_t row_bytes = t == 0 ? 0 : src.nbytes() / t;
  const int64_t rows = std::clamp<int64_t>(t - start, 0, length);
  if (rows > 0 && row_bytes > 0) {
    std::memcpy(out.raw_data(), static_cast<const char*>(src.raw_data()) + start * row_bytes,
                static_cast<size_t>(rows * row_bytes));
  }
  return out;
}

Tensor random_time_crop(const Tensor& x, int64_t length, Generator& gen) {
  KILN_CHECK(x.defined() && x.dim() >= 1 && length >= 0,
             "random_time_crop: expects (T, ...) and length >= 0, got ",
             x.defined() ? shape_str(x.shape()) : "undefined", " and ", length);
  const auto r = kernels::philox4x32(gen.seed(), gen.reserve(1));
  const int64_t slack = std::max<int64_t>(x.size(0) - length, 0);
  const auto start =
      static_cast<int64_t>(detail::uniform_below(bits64(r, 0), static_cast<uint64_t>(slack) + 1));
  return time_crop(x, start, length);
}

Tensor apply_gain(const Tensor& waveform, double gain_db) {
  check_waveform(waveform, "apply_gain");
  KILN_CHECK(std::isfinite(gain_db), "apply_gain: gain_db must be finite, got ", gain_db);
  const auto scale = static_cast<float>(std::pow(10.0, gain_db / 20.0));
  const Tensor src = as_contiguous(waveform);
  const float* in = src.data<float>();
  Tensor out = Tensor::empty(waveform.shape(), DType::kF32);
  float* dst = out.data<float>();
  for (int64_t i = 0; i < waveform.size(0); ++i) dst[i] = in[i] * scale;
  return out;
}

Tensor random_gain(const Tensor& waveform, double min_db, double max_db, Generator& gen) {
  check_range(min_db, max_db, "random_gain", "gain dB");
  const auto r = kernels::philox4x32(gen.seed(), gen.reserve(1));
  return apply_gain(waveform, uniform(bits64(r, 0), min_db, max_db));
}

Tensor add_noise_at_snr(const Tensor& waveform, double snr_db, uint64_t noise_key) {
  check_waveform(waveform, "add_noise_at_snr");
  KILN_CHECK(std::isfinite(snr_db), "add_noise_at_snr: snr_db must be finite, got ", snr_db);
  const int64_t t = waveform.size(0);
  const Tensor src = as_contiguous(waveform);
  const float* in = src.data<float>();
  double power = 0.0;
  for (int64_t i = 0; i < t; ++i) power += static_cast<double>(in[i]) * in[i];
  if (t == 0 || power == 0.0) return waveform;
  power /= static_cast<double>(t);
  const double noise_std = std::sqrt(power / std::pow(10.0, snr_db / 10.0));
  Tensor out = Tensor::empty({t}, DType::kF32);
  float* dst = out.data<float>();
  kernels::random_normal(noise_key, 0, dst, t, 0.0, noise_std);
  for (int64_t i = 0; i < t; ++i) dst[i] += in[i];
  return out;
}

Tensor random_noise(const Tensor& waveform, double min_snr_db, double max_snr_db, Generator& gen) {
  check_range(min_snr_db, max_snr_db, "random_noise", "SNR dB");
  const uint64_t counter = gen.reserve(1);
  const auto r = kernels::philox4x32(gen.seed(), counter);
  const double snr_db = uniform(bits64(r, 0), min_snr_db, max_snr_db);
  // A key of its own for the noise, so its length does not shift the
  // generator's counters.
  const uint64_t key = detail::derive_key(gen.seed() ^ kNoiseTag, counter);
  return add_noise_at_snr(waveform, snr_db, key);
}

Transform audio_augmentation(AudioAugmentOptions options) {
  KILN_CHECK(options.crop_length >= 0, "audio_augmentation: crop_length must be >= 0, got ",
             options.crop_length);
  if (options.gain)
    check_range(options.min_gain_db, options.max_gain_db, "audio_augmentation", "gain dB");
  if (options.noise)
    check_range(options.min_snr_db, options.max_snr_db, "audio_augmentation", "SNR dB");
  return [o = std::move(options)](Example example, Generator& gen) {
    Tensor audio = example.at(o.key);
    if (o.crop_length > 0) audio = random_time_crop(audio, o.crop_length, gen);
    if (o.gain) audio = random_gain(audio, o.min_gain_db, o.max_gain_db, gen);
    if (o.noise) audio = random_noise(audio, o.min_snr_db, o.max_snr_db, gen);
    example.set(o.key, std::move(audio));
    return example;
  };
}

}  // namespace kiln::data
