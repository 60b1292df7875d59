// Audio augmentations: crops, gain and noise do what they say, draw the same
// values for the same generator state, and consume one block per call.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <set>
#include <vector>

#include "kiln/core/error.h"
#include "kiln/data/audio_augment.h"

namespace kiln::data {
namespace {

// Sample i is i + 1 (no zeros, so padding is told apart).
Tensor ramp(int64_t n) {
  std::vector<float> x(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) x[i] = static_cast<float>(i + 1);
  return from_vector(x, {n});
}

Tensor sine(int64_t n) {
  std::vector<float> x(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) x[i] = static_cast<float>(0.5 * std::sin(0.05 * i));
  return from_vector(x, {n});
}

double mean_power(const std::vector<double>& v) {
  double s = 0;
  for (const double x : v) s += x * x;
  return s / static_cast<double>(v.size());
}

TEST(AudioAugment, TimeCropTakesRowsAndPadsTheEnd) {
  EXPECT_EQ(to_float_vector(time_crop(ramp(10), 3, 4)), (std::vector<float>{4, 5, 6, 7}));
  EXPECT_EQ(to_float_vector(time_crop(ramp(5), 3, 4)), (std::vector<float>{4, 5, 0, 0}));
  EXPECT_EQ(to_float_vector(time_crop(ramp(3), 7, 2)), (std::vector<float>{0, 0}));
  // A spectrogram (F, n_mels) crops whole frames.
  const Tensor spec = from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {3, 2});
  const Tensor crop = time_crop(spec, 1, 2);
  EXPECT_EQ(crop.shape(), (Shape{2, 2}));
  EXPECT_EQ(to_float_vector(crop), (std::vector<float>{3, 4, 5, 6}));
  EXPECT_THROW(time_crop(ramp(5), -1, 2), Error);
  EXPECT_THROW(time_crop(ramp(5), 0, -2), Error);
}

TEST(AudioAugment, RandomTimeCropDrawsEveryStartReproducibly) {
  const Tensor x = ramp(8);
  Generator gen(5);
  std::set<float> starts;
  for (int i = 0; i < 300; ++i) {
    const std::vector<float> c = to_float_vector(random_time_crop(x, 5, gen));
    ASSERT_EQ(c.size(), 5u);
    for (size_t k = 1; k < c.size(); ++k) ASSERT_EQ(c[k], c[0] + static_cast<float>(k));
    starts.insert(c[0]);
  }
  EXPECT_EQ(starts, (std::set<float>{1, 2, 3, 4}));  // starts 0..3
  Generator a(11), b(11);
  EXPECT_EQ(to_float_vector(random_time_crop(ramp(1000), 100, a)),
            to_float_vector(random_time_crop(ramp(1000), 100, b)));
  EXPECT_EQ(a.offset(), 1u);
  // Shorter than the crop: start 0, zero-padded.
  Generator c(1);
  EXPECT_EQ(to_float_vector(random_time_crop(ramp(2), 4, c)), (std::vector<float>{1, 2, 0, 0}));
}

TEST(AudioAugment, GainScalesByDecibels) {
  const std::vector<float> x = to_float_vector(sine(200));
  const std::vector<float> y = to_float_vector(apply_gain(sine(200), 6.0));
  for (size_t i = 0; i < x.size(); ++i) {
    ASSERT_FLOAT_EQ(y[i], x[i] * static_cast<float>(std::pow(10.0, 0.3)));
  }
  Generator gen(2);
  for (int i = 0; i < 50; ++i) {
    const std::vector<float> g = to_float_vector(random_gain(ramp(4), -3.0, 9.0, gen));
    const double db = 20.0 * std::log10(g[0] / 1.0);
    ASSERT_GE(db, -3.0 - 1e-4);
    ASSERT_LE(db, 9.0 + 1e-4);
    for (size_t k = 0; k < g.size(); ++k) ASSERT_FLOAT_EQ(g[k], g[0] * static_cast<float>(k + 1));
  }
  EXPECT_EQ(gen.offset(), 50u);
  Generator a(9), b(9);
  EXPECT_EQ(to_float_vector(random_gain(ramp(4), -6, 6, a)),
            to_float_vector(random_gain(ramp(4), -6, 6, b)));
  EXPECT_THROW(random_gain(ramp(4), 3.0, -3.0, gen), Error);
}

TEST(AudioAugment, NoiseHasTheRequestedSnr) {
  const int64_t n = 200000;
  const Tensor x = sine(n);
  const std::vector<double> clean = to_vector(x);
  for (const double snr : {0.0, 10.0, 30.0}) {
    const std::vector<double> noisy = to_vector(add_noise_at_snr(x, snr, 1234));
    std::vector<double> noise(clean.size());
    for (size_t i = 0; i < clean.size(); ++i) noise[i] = noisy[i] - clean[i];
    const double measured = 10.0 * std::log10(mean_power(clean) / mean_power(noise));
    EXPECT_NEAR(measured, snr, 0.05) << "SNR " << snr;
  }
  // Same key, same noise; another key, other noise.
  EXPECT_EQ(to_float_vector(add_noise_at_snr(sine(64), 10, 7)),
            to_float_vector(add_noise_at_snr(sine(64), 10, 7)));
  EXPECT_NE(to_float_vector(add_noise_at_snr(sine(64), 10, 7)),
            to_float_vector(add_noise_at_snr(sine(64), 10, 8)));
  // Silence has no SNR to keep: unchanged.
  EXPECT_EQ(to_float_vector(add_noise_at_snr(zeros({16}), 10, 7)), std::vector<float>(16, 0.0f));
}

TEST(AudioAugment, RandomNoiseIsReproducibleAndUsesOneBlock) {
  Generator a(4), b(4), c(5);
  const std::vector<float> va = to_float_vector(random_noise(sine(1000), 5, 20, a));
  EXPECT_EQ(va, to_float_vector(random_noise(sine(1000), 5, 20, b)));
  EXPECT_NE(va, to_float_vector(random_noise(sine(1000), 5, 20, c)));
  EXPECT_EQ(a.offset(), 1u);
  // The next draw differs from the first.
  EXPECT_NE(va, to_float_vector(random_noise(sine(1000), 5, 20, a)));
  // SNR stays in its range: measured over 100k samples, within 0.1 dB.
  const Tensor x = sine(100000);
  const std::vector<double> clean = to_vector(x);
  Generator gen(8);
  for (int i = 0; i < 5; ++i) {
    const std::vector<double> noisy = to_vector(random_noise(x, 12.0, 18.0, gen));
    std::vector<double> noise(clean.size());
    for (size_t k = 0; k < clean.size(); ++k) noise[k] = noisy[k] - clean[k];
    const double snr = 10.0 * std::log10(mean_power(clean) / mean_power(noise));
    EXPECT_GT(snr, 12.0 - 0.1);
    EXPECT_LT(snr, 18.0 + 0.1);
  }
}

// Two views of the same clip (different streams of map), reproducible per
// (seed, epoch, index).
TEST(AudioAugment, AugmentationUnderMapIsDeterministic) {
  const int64_t n = 4, t = 3000;
  std::vector<float> all;
  for (int64_t i = 0; i < n; ++i) {
    const std::vector<float> clip = to_float_vector(sine(t));
    for (const float v : clip) all.push_back(v * static_cast<float>(i + 1));
  }
  const DatasetPtr clips = tensor_dataset({{kAudioKey, from_vector(all, {n, t})}});
  const AudioAugmentOptions options{
      .crop_length = 1000, .gain = true, .noise = true, .min_snr_db = 5, .max_snr_db = 20};
  const DatasetPtr view1 = map(clips, audio_augmentation(options), 1);
  const DatasetPtr view2 = map(clips, audio_augmentation(options), 2);
  for (int64_t i = 0; i < n; ++i) {
    const std::vector<float> a = to_float_vector(view1->get(i, {3, 0}).at(kAudioKey));
    EXPECT_EQ(a.size(), 1000u);
    EXPECT_EQ(a, to_float_vector(view1->get(i, {3, 0}).at(kAudioKey)));
    EXPECT_NE(a, to_float_vector(view2->get(i, {3, 0}).at(kAudioKey)));
    EXPECT_NE(a, to_float_vector(view1->get(i, {3, 1}).at(kAudioKey)));
  }
  EXPECT_THROW(audio_augmentation({.crop_length = -1}), Error);
  EXPECT_THROW(audio_augmentation({.noise = true, .min_snr_db = 30, .max_snr_db = 10}), Error);
}

}  // namespace
}  // namespace kiln::data
