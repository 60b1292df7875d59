// CIFAR binary reader: records of label byte(s) then R, G and B planes of
// 32x32 bytes (CHW), converted to (32, 32, 3) HWC f32 in [0, 1].
#include "kiln/data/cifar.h"

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "kiln/io/file.h"
#include "kiln/ops/shape.h"
#include "src/data/file_util.h"

namespace kiln::data {
namespace {

constexpr int64_t kSide = 32;
constexpr int64_t kChannels = 3;
constexpr int64_t kImageBytes = kSide * kSide * kChannels;

struct Format {
  const char* name;
  int64_t label_bytes;
  int64_t num_classes;
};

Format format_of(CifarVariant variant) {
  return variant == CifarVariant::kCifar10 ? Format{"CIFAR-10", 1, 10}
                                           : Format{"CIFAR-100", 2, 100};
}

}  // namespace

absl::StatusOr<LabeledImages> read_cifar_file(const std::string& path, CifarVariant variant) {
  const Format format = format_of(variant);
  absl::StatusOr<std::string> bytes = io::read_file(path);
  if (!bytes.ok()) return bytes.status();
  const int64_t record = format.label_bytes + kImageBytes;
  const int64_t size = static_cast<int64_t>(bytes->size());
  if (size == 0 || size % record != 0) {
    return absl::DataLossError(
        absl::StrCat(path, ": size ", size, " bytes is not a positive multiple of the ", record,
                     "-byte ", format.name, " record (", format.label_bytes, " label byte",
                     format.label_bytes > 1 ? "s" : "", " + ", kImageBytes,
                     " image bytes); truncated or not a ", format.name, " file?"));
  }
  const int64_t n = size / record;
  Tensor images = Tensor::empty({n, kSide, kSide, kChannels}, DType::kF32);
  Tensor labels = Tensor::empty({n}, DType::kI64);
  float* img = images.data<float>();
  int64_t* lab = labels.data<int64_t>();
  const auto* src = reinterpret_cast<const unsigned char*>(bytes->data());
  for (int64_t i = 0; i < n; ++i) {
    const unsigned char* rec = src + i * record;
    // CIFAR-100 stores (coarse, fine); the fine label is the class.
    const int64_t label = rec[format.label_bytes - 1];
    if (variant == CifarVariant::kCifar100 && rec[0] >= 20) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": record ", i, " has coarse label ",
                                                     int{rec[0]}, ", out of range [0, 20)"));
    }
    if (label >= format.num_classes) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": record ", i, " has label ", label,
                                                     ", out of range [0, ", format.num_classes,
                                                     ")"));
    }
    lab[i] = label;
    const unsigned char* planes = rec + format.label_bytes;
    float* dst = img + i * kImageBytes;
    for (int64_t c = 0; c < kChannels; ++c) {
      for (int64_t p = 0; p < kSide * kSide; ++p) {
        dst[p * kChannels + c] = static_cast<float>(planes[c * kSide * kSide + p]) / 255.0f;
      }
    }
  }
  return LabeledImages{std::move(images), std::move(labels), format.num_classes};
}

absl::StatusOr<LabeledImages> load_cifar(const std::string& dir, bool train, CifarVariant variant) {
  std::vector<std::string> names;
  if (variant == CifarVariant::kCifar10) {
    if (train) {
      for (int i = 1; i <= 5; ++i) names.push_back(absl::StrCat("data_batch_", i, ".bin"));
    } else {
      names.push_back("test_batch.bin");
    }
  } else {
    names.push_back(train ? "train.bin" : "test.bin");
  }
  TensorList images, labels;
  int64_t num_classes = 0;
  for (const std::string& name : names) {
    absl::StatusOr<LabeledImages> part =
        read_cifar_file((std::filesystem::path(dir) / name).string(), variant);
    if (!part.ok()) return part.status();
    images.push_back(part->images);
    labels.push_back(part->labels);
    num_classes = part->num_classes;
  }
  if (images.size() == 1) return LabeledImages{images[0], labels[0], num_classes};
  return LabeledImages{concat(images, 0), concat(labels, 0), num_classes};
}

}  // namespace kiln::data
