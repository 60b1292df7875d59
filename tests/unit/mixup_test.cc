// MixUp / CutMix of classification batches (src/train/tasks/mixup.h) and
// their task config keys.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "kiln/train/experiment_config.h"
#include "src/train/tasks/mixup.h"

namespace kiln::train {
namespace {

// Image i is filled with the value i + 1 in every pixel and channel, so each
// output pixel tells which image it came from. (N, H, W, C).
Tensor constant_images(int64_t n, int64_t h, int64_t w, int64_t c) {
  std::vector<float> v(n * h * w * c);
  for (size_t k = 0; k < v.size(); ++k) v[k] = static_cast<float>(k / (h * w * c) + 1);
  return from_vector(v, {n, h, w, c});
}

TEST(Mixup, BetaSamplesHaveTheBetaMoments) {
  Generator gen(1);
  const double alpha = 0.2;
  const int n = 20000;
  double s = 0, s2 = 0;
  int extreme = 0;
  for (int i = 0; i < n; ++i) {
    const double x = sample_beta(alpha, gen);
    ASSERT_GE(x, 0.0);
    ASSERT_LE(x, 1.0);
    s += x;
    s2 += x * x;
    extreme += x < 0.05 || x > 0.95;
  }
  const double mean = s / n, var = s2 / n - mean * mean;
  EXPECT_NEAR(mean, 0.5, 0.01);
  EXPECT_NEAR(var, 1.0 / (4 * (2 * alpha + 1)), 0.005);  // Beta(a, a): 1 / (4 (2a + 1))
  EXPECT_GT(extreme, n / 2);                             // U-shaped for alpha < 1
  EXPECT_NEAR(sample_beta(50.0, gen), 0.5, 0.2);
  EXPECT_THROW(sample_beta(0.0, gen), Error);
}

TEST(Mixup, GeneratorIsKeyedBySeedAndStep) {
  const MixOptions options{.mixup = true, .cutmix = true};
  const Tensor images = constant_images(6, 5, 4, 2);
  const Tensor labels = from_vector(std::vector<int64_t>{0, 1, 2, 3, 4, 5}, {6});
  auto run = [&](uint64_t seed, int64_t step) {
    Generator gen = mix_generator(seed, step);
    return mix_batch(images, labels, options, gen).ratio;
  };
  EXPECT_EQ(run(3, 17), run(3, 17));
  EXPECT_NE(run(3, 17), run(3, 18));
  EXPECT_NE(run(3, 17), run(4, 17));
}

TEST(Mixup, MixupBlendsImagesAndLabels) {
  const Tensor images = constant_images(4, 3, 3, 2);
  const Tensor labels = from_vector(std::vector<int64_t>{2, 0, 2, 1}, {4});
  Generator gen(7);
  const MixedBatch m = mix_batch(images, labels, {.mixup = true}, gen);
  const std::vector<double> x = to_vector(m.images);
  const std::vector<double> t = to_vector(m.targets(3));
  for (int64_t i = 0; i < 4; ++i) {
    const int64_t j = (i + 1) % 4;
    const double r = m.ratio[i];
    EXPECT_EQ(m.primary[i], std::vector<int64_t>({2, 0, 2, 1})[i]);
    EXPECT_EQ(m.partner[i], std::vector<int64_t>({2, 0, 2, 1})[j]);
    for (int k = 0; k < 18; ++k) {
      EXPECT_NEAR(x[i * 18 + k], r * (i + 1) + (1 - r) * (j + 1), 1e-5);
    }
    double row = 0;
    for (int c = 0; c < 3; ++c) row += t[i * 3 + c];
    EXPECT_NEAR(row, 1.0, 1e-6);
    EXPECT_NEAR(t[i * 3 + m.primary[i]], m.primary[i] == m.partner[i] ? 1.0 : r, 1e-6);
  }
}

TEST(Mixup, CutmixPastesABoxWithItsAreaAsRatio) {
  const int64_t n = 64, h = 9, w = 7, c = 2;
  const Tensor images = constant_images(n, h, w, c);
  std::vector<int64_t> y(n);
  for (int64_t i = 0; i < n; ++i) y[i] = i % 10;
  Generator gen(11);
  const MixedBatch m = mix_batch(images, from_vector(y, {n}), {.cutmix = true}, gen);
  const std::vector<double> x = to_vector(m.images);
  double ratio_sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double a = static_cast<double>(i + 1), b = static_cast<double>((i + 1) % n + 1);
    int64_t from_a = 0, top = h, bottom = -1, left = w, right = -1;
    for (int64_t row = 0; row < h; ++row) {
      for (int64_t col = 0; col < w; ++col) {
        for (int64_t ch = 0; ch < c; ++ch) {
          const double v = x[((i * h + row) * w + col) * c + ch];
          ASSERT_TRUE(v == a || v == b) << v;
          if (v == a && ch == 0) {
            ++from_a;
            top = std::min(top, row), bottom = std::max(bottom, row);
            left = std::min(left, col), right = std::max(right, col);
          }
        }
      }
    }
    // The pasted pixels form one rectangle, and the label weight is its area.
    if (from_a > 0) {
      EXPECT_EQ(from_a, (bottom - top + 1) * (right - left + 1)) << i;
    }
    EXPECT_DOUBLE_EQ(m.ratio[i], static_cast<double>(from_a) / static_cast<double>(h * w));
    ratio_sum += m.ratio[i];
  }
  // Box side sqrt(1 - U) * size, clipped at the border: a mean area below 1/2.
  EXPECT_GT(ratio_sum / n, 0.1);
  EXPECT_LT(ratio_sum / n, 0.5);
}

TEST(Mixup, BothHalvesAndErrors) {
  const Tensor images = constant_images(6, 4, 4, 1);
  const Tensor labels = from_vector(std::vector<int64_t>{0, 1, 2, 3, 4, 5}, {6});
  Generator gen(2);
  const MixedBatch m = mix_batch(images, labels, {.mixup = true, .cutmix = true}, gen);
  const std::vector<double> x = to_vector(m.images);
  for (int64_t i = 0; i < 6; ++i) {
    std::set<double> values(x.begin() + i * 16, x.begin() + (i + 1) * 16);
    if (i < 3) {
      EXPECT_EQ(values.size(), 1u) << "MixUp is uniform over the image";
    } else {
      EXPECT_LE(values.size(), 2u) << "CutMix pastes whole pixels";
    }
  }
  EXPECT_THROW(m.targets(5), Error);  // label 5 is not below 5 classes
  EXPECT_THROW(mix_batch(images, labels, {}, gen), Error);
  EXPECT_THROW(
      mix_batch(images, from_vector(std::vector<int64_t>{0, 1}, {2}), {.mixup = true}, gen), Error);
}

TEST(Mixup, TaskConfigKeys) {
  auto parse = [](const std::string& task) {
    return parse_experiment(Json::parse(R"({"model": {"name": "convnet"}, "task": )" + task + "}"),
                            "test.json");
  };
  absl::StatusOr<ExperimentConfig> ok =
      parse(R"({"mixup": true, "cutmix": true, "mixup_alpha": 0.4, "label_smoothing": 0.1})");
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_TRUE(ok->task.mixup);
  EXPECT_TRUE(ok->task.cutmix);
  EXPECT_EQ(ok->task.mixup_alpha, 0.4);
  EXPECT_FALSE(parse(R"({"mixup": true, "mixup_alpha": 0})").ok());
  const absl::StatusOr<ExperimentConfig> lm =
      parse(R"({"name": "language_modeling", "cutmix": true})");
  ASSERT_FALSE(lm.ok());
  EXPECT_NE(lm.status().message().find("task.cutmix"), std::string::npos) << lm.status();
}

}  // namespace
}  // namespace kiln::train
