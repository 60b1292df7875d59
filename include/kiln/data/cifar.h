// CIFAR binary files (the "binary version" of
// https://www.cs.toronto.edu/~kriz/cifar.html): fixed-size records of label
// bytes then 3072 image bytes as three 32x32 planes (R, G, B), converted to
// (32, 32, 3) channels-last f32 in [0, 1].
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "kiln/data/dataset.h"

namespace kiln::data {

enum class CifarVariant {
  kCifar10,   // 1 label byte (0..9)
  kCifar100,  // a coarse (0..19) then a fine (0..99) label byte; the fine label is used
};

// One file of records: images (N, 32, 32, 3), labels (N).
absl::StatusOr<LabeledImages> read_cifar_file(const std::string& path,
                                              CifarVariant variant = CifarVariant::kCifar10);

// The training or test split in `dir`: data_batch_{1..5}.bin or
// test_batch.bin for CIFAR-10, train.bin or test.bin for CIFAR-100.
absl::StatusOr<LabeledImages> load_cifar(const std::string& dir, bool train,
                                         CifarVariant variant = CifarVariant::kCifar10);

}  // namespace kiln::data
