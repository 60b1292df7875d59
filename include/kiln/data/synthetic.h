// Synthetic datasets for tests and benchmarks, generated on demand from
// (seed, index): nothing is stored, and example i is the same on every call
// and every epoch.
#pragma once

#include <cstdint>

#include "kiln/data/dataset.h"

namespace kiln::data {

struct SyntheticImagesOptions {
  int64_t size = 1024;  // number of examples
  int64_t height = 32;
  int64_t width = 32;
  int64_t channels = 3;
  int64_t num_classes = 10;
  uint64_t seed = 0;
};

// Examples {"image": (H, W, C) f32 uniform in [0, 1), "label": () i64
// uniform in [0, num_classes)}, label independent of image (throughput
// benchmarks).
DatasetPtr synthetic_images(const SyntheticImagesOptions& options);

// Same image distribution, but the label is a deterministic function of the
// image: argmax over classes of <w_c, image - 0.5> for fixed random
// directions w_c drawn from the seed. A linear classifier separates it, so
// tests can check that training reduces the loss.
DatasetPtr learnable_images(const SyntheticImagesOptions& options);
// The label learnable_images gives `image` (H, W, C) under `options`.
int64_t learnable_label(const SyntheticImagesOptions& options, const Tensor& image);

struct SyntheticTokensOptions {
  int64_t size = 1024;
  int64_t seq_len = 128;  // T; examples hold T + 1 tokens like text_windows()
  int64_t vocab_size = 256;
  uint64_t seed = 0;
};
// Examples {"tokens": (T + 1) i64} uniform in [0, vocab_size).
DatasetPtr synthetic_tokens(const SyntheticTokensOptions& options);

}  // namespace kiln::data
