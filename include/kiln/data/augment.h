// Image augmentation on (H, W, C) f32 tensors, and augmentation
// multiplicity (Fort et al. 2021, "Drawing Multiple Augmentation Samples Per
// Image During Training Efficiently Decreases Test Error"): batches of B
// hold B / m unique images, each augmented m times with different draws.
// Random functions draw from the generator they are given; under map() that
// is the per-example generator keyed by (seed, epoch, index).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kiln/data/dataset.h"
#include "kiln/tensor/generator.h"
#include "kiln/tensor/tensor.h"

namespace kiln::data {

enum class PadMode {
  kConstant,  // zeros
  kReflect,   // mirror without repeating the edge (numpy "reflect"); padding < H and < W
};

// Pads `padding` pixels on every side of H and W, then crops an (H, W)
// window whose top-left corner is (top, left) in the padded image, each in
// [0, 2 * padding]. (top, left) = (padding, padding) gives the image back.
Tensor pad_and_crop(const Tensor& image, int64_t padding, PadMode mode, int64_t top, int64_t left);
// pad_and_crop at a corner uniform over the (2 * padding + 1)^2 choices.
Tensor random_crop(const Tensor& image, int64_t padding, PadMode mode, Generator& gen);

// Mirrors the W axis.
Tensor horizontal_flip(const Tensor& image);
// horizontal_flip with probability p, else the image unchanged (same tensor).
Tensor random_horizontal_flip(const Tensor& image, Generator& gen, double p = 0.5);

// (image - mean[c]) / std[c] per channel; mean and std have C entries, std > 0.
Tensor normalize(const Tensor& image, const std::vector<float>& mean,
                 const std::vector<float>& std);

struct ImageAugmentOptions {
  std::string key = kImageKey;  // which tensor of the example to augment
  int64_t crop_padding = 0;     // 0: no random crop
  PadMode pad_mode = PadMode::kConstant;
  bool horizontal_flip = false;
  // Normalisation after the random steps; empty: none.
  std::vector<float> mean;
  std::vector<float> std;
};
// Crop, then flip, then normalise `options.key`, as a Transform for map().
Transform image_augmentation(ImageAugmentOptions options);

struct MultiplicityOptions {
  int64_t batch_size = 0;    // B
  int64_t multiplicity = 1;  // m, dividing B
  bool drop_last = false;
  uint64_t stream = 0;  // the map() stream of the augmentation
};
// Batches of B examples holding B / m unique examples of `dataset` in order,
// each one m times in a row with `augment` applied under different draws:
// batch(map(repeat_each(dataset, m), augment), B). An epoch still visits
// every unique example once, in ceil(N * m / B) batches. Shuffle `dataset`
// first to randomise which examples share a batch. Throws kiln::Error
// unless m >= 1 divides B.
DatasetPtr batch_with_multiplicity(DatasetPtr dataset, Transform augment,
                                   const MultiplicityOptions& options);

}  // namespace kiln::data
