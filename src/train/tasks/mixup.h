// MixUp and CutMix on a training batch, as deepmind-research
// nfnets/dataset.py (my_mixup, my_cutmix, my_mixup_cutmix, cutmix_padding)
// and experiment.py (label mixing):
//
// - every output example i mixes a primary image a = i with a partner
//   b = (i + 1) mod N of the same (shuffled) batch; its soft target is
//   ratio * onehot(y_a) + (1 - ratio) * onehot(y_b), to which the loss then
//   applies label smoothing, as the official code does;
// - MixUp: x = ratio * x_a + (1 - ratio) * x_b, ratio ~ Beta(alpha, alpha)
//   per example (alpha 0.2 in NFNets);
// - CutMix: a box of side sqrt(1 - u) * (H, W), u ~ U[0, 1), centred at a
//   uniform pixel and clipped to the image, holds x_a and the rest x_b;
//   ratio is the box's area fraction;
// - with both, the first floor(N / 2) examples get MixUp and the rest
//   CutMix (the official code mixes half the batch each way).
//
// The official pipeline draws 2B images to make B mixed ones; pairing
// within the batch (each image is a primary once and a partner once) keeps
// the configured batch size and draws the same pairs' distribution.
// All draws come from the generator passed in; the task keys it by
// (seed, step) with mix_generator, so a resumed run repeats them exactly.
#pragma once

#include <cstdint>
#include <vector>

#include "kiln/tensor/generator.h"
#include "kiln/tensor/tensor.h"

namespace kiln::train {

struct MixOptions {
  bool mixup = false;
  bool cutmix = false;
  double mixup_alpha = 0.2;  // Beta(alpha, alpha), > 0
  bool enabled() const { return mixup || cutmix; }
};

struct MixedBatch {
  Tensor images;                 // (N, H, W, C) f32
  std::vector<int64_t> primary;  // y_a per example
  std::vector<int64_t> partner;  // y_b per example
  std::vector<double> ratio;     // weight of y_a, in [0, 1]
  // Soft targets (N, num_classes) f32; throws kiln::Error for a label
  // outside [0, num_classes).
  Tensor targets(int64_t num_classes) const;
};

// images (N, H, W, C) f32, labels (N) integer.
MixedBatch mix_batch(const Tensor& images, const Tensor& labels, const MixOptions& options,
                     Generator& gen);

// A generator whose draws depend only on (seed, step).
Generator mix_generator(uint64_t seed, int64_t step);

// One Beta(alpha, alpha) draw (Marsaglia-Tsang gammas in log space, stable
// for small alpha); exposed for tests.
double sample_beta(double alpha, Generator& gen);

}  // namespace kiln::train
