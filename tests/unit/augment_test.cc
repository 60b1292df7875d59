// Image augmentation and augmentation multiplicity.
#include "kiln/data/augment.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include "kiln/ops/random.h"

namespace kiln::data {
namespace {

// (H, W, C) image whose value at (y, x, c) is 100 y + 10 x + c + 1.
Tensor coded_image(int64_t h, int64_t w, int64_t c) {
  std::vector<float> v;
  for (int64_t y = 0; y < h; ++y) {
    for (int64_t x = 0; x < w; ++x) {
      for (int64_t k = 0; k < c; ++k) v.push_back(static_cast<float>(100 * y + 10 * x + k + 1));
    }
  }
  return from_vector(v, {h, w, c});
}

float at(const Tensor& image, int64_t y, int64_t x, int64_t c) {
  return to_float_vector(image)[(y * image.size(1) + x) * image.size(2) + c];
}

TEST(DataAugment, FlipTwiceIsTheIdentity) {
  Tensor image = coded_image(3, 4, 2);
  Tensor flipped = horizontal_flip(image);
  EXPECT_EQ(flipped.shape(), image.shape());
  EXPECT_EQ(at(flipped, 1, 0, 1), at(image, 1, 3, 1));
  EXPECT_EQ(at(flipped, 2, 1, 0), at(image, 2, 2, 0));
  EXPECT_NE(to_float_vector(flipped), to_float_vector(image));
  EXPECT_EQ(to_float_vector(horizontal_flip(flipped)), to_float_vector(image));
  // Non-contiguous input is read by value.
  Tensor strided = make_view(coded_image(4, 4, 2), {3, 4, 2}, {8, 2, 1}, 8);
  EXPECT_EQ(to_float_vector(horizontal_flip(horizontal_flip(strided))), to_float_vector(strided));

  Generator gen(1);
  EXPECT_TRUE(random_horizontal_flip(image, gen, 0.0).shares_storage(image));
  EXPECT_EQ(to_float_vector(random_horizontal_flip(image, gen, 1.0)), to_float_vector(flipped));
  int flips = 0;
  for (int i = 0; i < 400; ++i) flips += !random_horizontal_flip(image, gen).shares_storage(image);
  EXPECT_NEAR(flips, 200, 50);
}

TEST(DataAugment, CropWithZeroPaddingKeepsShapeAndMovesContent) {
  Tensor image = coded_image(4, 5, 3);
  const int64_t p = 2;
  EXPECT_EQ(to_float_vector(pad_and_crop(image, p, PadMode::kConstant, p, p)),
            to_float_vector(image));
  // Corner (0, 0): the content moves down and right by p, zeros fill in.
  Tensor moved = pad_and_crop(image, p, PadMode::kConstant, 0, 0);
  EXPECT_EQ(moved.shape(), image.shape());
  for (int64_t y = 0; y < 4; ++y) {
    for (int64_t x = 0; x < 5; ++x) {
      for (int64_t c = 0; c < 3; ++c) {
        const float expected = (y < p || x < p) ? 0.0f : at(image, y - p, x - p, c);
        EXPECT_EQ(at(moved, y, x, c), expected) << y << " " << x << " " << c;
      }
    }
  }
  // Corner (2p, 1): up by p, right by p - 1.
  Tensor up = pad_and_crop(image, p, PadMode::kConstant, 2 * p, 1);
  EXPECT_EQ(at(up, 0, 1, 2), at(image, 2, 0, 2));
  EXPECT_EQ(at(up, 3, 1, 0), 0.0f);
  EXPECT_THROW(pad_and_crop(image, p, PadMode::kConstant, 2 * p + 1, 0), Error);
  EXPECT_THROW(pad_and_crop(image, -1, PadMode::kConstant, 0, 0), Error);
}

TEST(DataAugment, ReflectPaddingMirrorsWithoutTheEdge) {
  Tensor image = coded_image(3, 4, 1);
  // Corner (0, 0) with padding 2: padded row -2 is row 2, column -1 is column 1.
  Tensor out = pad_and_crop(image, 2, PadMode::kReflect, 0, 0);
  EXPECT_EQ(at(out, 0, 0, 0), at(image, 2, 2, 0));
  EXPECT_EQ(at(out, 1, 1, 0), at(image, 1, 1, 0));
  EXPECT_EQ(at(out, 2, 3, 0), at(image, 0, 1, 0));
  // Bottom-right: row 3 reflects to 1, column 4 to 2.
  Tensor br = pad_and_crop(image, 1, PadMode::kReflect, 2, 2);
  EXPECT_EQ(at(br, 2, 3, 0), at(image, 1, 2, 0));
  EXPECT_THROW(pad_and_crop(image, 3, PadMode::kReflect, 0, 0), Error);
}

TEST(DataAugment, RandomCropDrawsEveryCornerReproducibly) {
  Tensor image = coded_image(4, 4, 1);
  const int64_t p = 1;
  std::vector<std::vector<float>> crops;
  for (int64_t top = 0; top <= 2 * p; ++top) {
    for (int64_t left = 0; left <= 2 * p; ++left) {
      crops.push_back(to_float_vector(pad_and_crop(image, p, PadMode::kConstant, top, left)));
    }
  }
  Generator gen(3);
  std::set<size_t> seen;
  for (int i = 0; i < 200; ++i) {
    const std::vector<float> crop = to_float_vector(random_crop(image, p, PadMode::kConstant, gen));
    size_t which = crops.size();
    for (size_t k = 0; k < crops.size(); ++k) {
      if (crops[k] == crop) which = k;
    }
    ASSERT_LT(which, crops.size()) << "a crop that is no pad_and_crop corner";
    seen.insert(which);
  }
  EXPECT_EQ(seen.size(), crops.size());
  Generator a(7), b(7);
  EXPECT_EQ(to_float_vector(random_crop(image, 2, PadMode::kReflect, a)),
            to_float_vector(random_crop(image, 2, PadMode::kReflect, b)));
  EXPECT_EQ(a.offset(), 1u);  // one block per call
}

TEST(DataAugment, NormalizeValues) {
  Tensor image = from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {1, 2, 3});
  Tensor out = normalize(image, {1, 2, 3}, {1, 2, 4});
  const std::vector<float> v = to_float_vector(out);
  EXPECT_FLOAT_EQ(v[0], 0.0f);
  EXPECT_FLOAT_EQ(v[1], 0.0f);
  EXPECT_FLOAT_EQ(v[2], 0.0f);
  EXPECT_FLOAT_EQ(v[3], 3.0f);
  EXPECT_FLOAT_EQ(v[4], 1.5f);
  EXPECT_FLOAT_EQ(v[5], 0.75f);
  EXPECT_THROW(normalize(image, {0, 0}, {1, 1}), Error);
  EXPECT_THROW(normalize(image, {0, 0, 0}, {1, 0, 1}), Error);
  EXPECT_THROW(normalize(zeros({2, 3}), {0}, {1}), Error);
  EXPECT_THROW(horizontal_flip(zeros({2, 2, 1}, DType::kF64)), Error);
}

// N examples {"image": coded image offset by 1000 i, "label": i}.
DatasetPtr coded_dataset(int64_t n, int64_t side) {
  std::vector<Tensor> images;
  std::vector<int64_t> labels;
  std::vector<float> all;
  for (int64_t i = 0; i < n; ++i) {
    for (float v : to_float_vector(coded_image(side, side, 3))) all.push_back(v + 1000.0f * i);
    labels.push_back(i);
  }
  return tensor_dataset(
      {{kImageKey, from_vector(all, {n, side, side, 3})}, {kLabelKey, from_vector(labels, {n})}});
}

TEST(DataAugment, AugmentationUnderMapIsReproducibleAcrossThreads) {
  DatasetPtr ds = map(coded_dataset(16, 6), image_augmentation({.crop_padding = 2,
                                                                .pad_mode = PadMode::kReflect,
                                                                .horizontal_flip = true,
                                                                .mean = {1, 2, 3},
                                                                .std = {2, 2, 2}}));
  std::vector<std::vector<float>> sequential;
  for (int64_t i = 0; i < 16; ++i)
    sequential.push_back(to_float_vector(ds->get(i, {4, 2}).at(kImageKey)));
  std::vector<std::vector<float>> parallel(16);
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&, t] {
      for (int64_t i = t; i < 16; i += 3)
        parallel[i] = to_float_vector(ds->get(i, {4, 2}).at(kImageKey));
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(parallel, sequential);
  // Another epoch draws other augmentations for some image.
  int changed = 0;
  for (int64_t i = 0; i < 16; ++i) {
    changed += to_float_vector(ds->get(i, {4, 3}).at(kImageKey)) != sequential[i];
  }
  EXPECT_GT(changed, 0);
  EXPECT_THROW(image_augmentation({.crop_padding = -1}), Error);
  EXPECT_THROW(image_augmentation({.mean = {0}, .std = {}}), Error);
}

// Every (crop corner, flip) variant of `image` under padding p, normalised by nothing.
std::vector<std::vector<float>> variants(const Tensor& image, int64_t p) {
  std::vector<std::vector<float>> out;
  for (int64_t top = 0; top <= 2 * p; ++top) {
    for (int64_t left = 0; left <= 2 * p; ++left) {
      Tensor crop = pad_and_crop(image, p, PadMode::kConstant, top, left);
      out.push_back(to_float_vector(crop));
      out.push_back(to_float_vector(horizontal_flip(crop)));
    }
  }
  return out;
}

TEST(DataAugment, MultiplicityBatchesShareTheSourceButNotTheDraws) {
  const int64_t n = 6, m = 4, b = 8, side = 5, p = 2;
  DatasetPtr source = coded_dataset(n, side);
  // Each copy also records one uniform draw of its generator.
  Transform augment = [inner = image_augmentation({.crop_padding = p, .horizontal_flip = true})](
                          Example e, Generator& gen) {
    e = inner(std::move(e), gen);
    e.set("draw", uniform({}, 0.0, 1.0, gen));
    return e;
  };
  DatasetPtr batches =
      batch_with_multiplicity(source, augment, {.batch_size = b, .multiplicity = m});
  ASSERT_EQ(batches->size(), 3);  // 6 * 4 / 8
  for (int64_t bi = 0; bi < batches->size(); ++bi) {
    Batch batch = batches->get(bi, {1, 0});
    const std::vector<double> labels = to_vector(batch.at(kLabelKey));
    const std::vector<double> draws = to_vector(batch.at("draw"));
    const std::vector<float> images = to_float_vector(batch.at(kImageKey));
    ASSERT_EQ(labels.size(), static_cast<size_t>(b));
    const int64_t pixels = side * side * 3;
    for (int64_t u = 0; u < b / m; ++u) {
      const int64_t source_index = bi * (b / m) + u;
      const auto allowed = variants(source->get(source_index).at(kImageKey), p);
      std::set<double> unique_draws;
      std::set<std::vector<float>> unique_images;
      for (int64_t k = 0; k < m; ++k) {
        const int64_t row = u * m + k;
        EXPECT_EQ(labels[row], source_index);
        unique_draws.insert(draws[row]);
        std::vector<float> img(images.begin() + row * pixels, images.begin() + (row + 1) * pixels);
        EXPECT_NE(std::find(allowed.begin(), allowed.end(), img), allowed.end())
            << "copy " << k << " of example " << source_index << " is not an augmentation of it";
        unique_images.insert(img);
      }
      EXPECT_EQ(unique_draws.size(), static_cast<size_t>(m));
      EXPECT_GT(unique_images.size(), 1u);
    }
  }
  EXPECT_EQ(batch_with_multiplicity(source, augment, {.batch_size = 4, .multiplicity = 4})->size(),
            6);
  EXPECT_EQ(batch_with_multiplicity(source, augment,
                                    {.batch_size = 8, .multiplicity = 2, .drop_last = true})
                ->size(),
            1);
  EXPECT_THROW(batch_with_multiplicity(source, augment, {.batch_size = 6, .multiplicity = 4}),
               Error);
  EXPECT_THROW(batch_with_multiplicity(source, augment, {.batch_size = 6, .multiplicity = 0}),
               Error);
}

}  // namespace
}  // namespace kiln::data
