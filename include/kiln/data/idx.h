// IDX files, the format of MNIST and Fashion-MNIST: a big-endian header
// (two zero bytes, a type code, the number of dims, then each dim as a u32)
// followed by the data. Files may be gzip-compressed (detected from their
// first bytes, not their name). Every reader validates the whole file and
// returns an error naming the file and the problem.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "kiln/data/dataset.h"
#include "kiln/tensor/tensor.h"

namespace kiln::data {

// An idx3 file of unsigned bytes (N, H, W) as (N, H, W, 1) f32 in [0, 1].
absl::StatusOr<Tensor> read_idx_images(const std::string& path);
// An idx1 file of unsigned bytes (N) as (N) i64; each label must be below
// `num_classes`.
absl::StatusOr<Tensor> read_idx_labels(const std::string& path, int64_t num_classes = 10);
// Images and labels files holding the same number of examples.
absl::StatusOr<LabeledImages> read_idx_dataset(const std::string& images_path,
                                               const std::string& labels_path,
                                               int64_t num_classes = 10);

// MNIST or Fashion-MNIST in `dir`: {train,t10k}-images-idx3-ubyte and
// {train,t10k}-labels-idx1-ubyte, each either as is or with ".gz" appended.
absl::StatusOr<LabeledImages> load_mnist(const std::string& dir, bool train);

}  // namespace kiln::data
