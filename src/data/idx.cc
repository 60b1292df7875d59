// IDX reader. The header is big-endian: u16 zero, u8 type code, u8 number of
// dims, then one u32 per dim. Only unsigned bytes (type 0x08) are read, as
// in every MNIST-style file.
#include "kiln/data/idx.h"

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "src/data/file_util.h"

namespace kiln::data {
namespace {

constexpr uint8_t kUnsignedByte = 0x08;

struct IdxFile {
  std::vector<int64_t> dims;
  std::string bytes;  // the whole (decompressed) file
  size_t data_offset = 0;

  const unsigned char* data() const {
    return reinterpret_cast<const unsigned char*>(bytes.data()) + data_offset;
  }
};

uint32_t read_be32(const std::string& bytes, size_t at) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data()) + at;
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

// Reads and checks an IDX file of unsigned bytes with `rank` dims; `what`
// names the expected content in errors ("images", "labels").
absl::StatusOr<IdxFile> read_idx(const std::string& path, int rank, const char* what) {
  absl::StatusOr<std::string> bytes = detail::read_maybe_gzipped(path);
  if (!bytes.ok()) return bytes.status();
  IdxFile file;
  file.bytes = *std::move(bytes);
  const std::string& b = file.bytes;
  if (b.size() < 4) {
    return absl::DataLossError(
        absl::StrCat(path, ": truncated: ", b.size(), " bytes, an IDX header needs at least 4"));
  }
  const uint32_t magic = read_be32(b, 0);
  if ((magic >> 16) != 0) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: bad magic number 0x%08x: not an IDX file (the first two bytes must be zero)", path,
        magic));
  }
  const uint8_t type = static_cast<uint8_t>(magic >> 8);
  const int file_rank = static_cast<int>(magic & 0xff);
  if (type != kUnsignedByte) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: IDX type code 0x%02x is not supported; %s must be unsigned bytes (0x08)", path, type,
        what));
  }
  if (file_rank != rank) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": has ", file_rank, " dims (magic ",
                                                   absl::StrFormat("0x%08x", magic), "); ", what,
                                                   " need ", rank));
  }
  file.data_offset = 4 + 4 * static_cast<size_t>(rank);
  if (b.size() < file.data_offset) {
    return absl::DataLossError(absl::StrCat(path, ": truncated: ", b.size(),
                                            " bytes, the IDX header needs ", file.data_offset));
  }
  // At most 3 dims below 2^32 each: the product fits in 128 bits.
  const uint64_t available = b.size() - file.data_offset;
  unsigned __int128 expected = 1;
  std::string dims_str;
  for (int d = 0; d < rank; ++d) {
    const uint32_t dim = read_be32(b, 4 + 4 * static_cast<size_t>(d));
    file.dims.push_back(dim);
    expected *= dim;
    absl::StrAppend(&dims_str, d ? " x " : "", dim);
  }
  if (expected > available) {
    return absl::DataLossError(absl::StrCat(path, ": truncated: the header gives dims ", dims_str,
                                            " but only ", available, " data bytes follow"));
  }
  if (expected != available) {
    return absl::DataLossError(absl::StrCat(path, ": inconsistent sizes: the header gives dims ",
                                            dims_str, " = ", static_cast<uint64_t>(expected),
                                            " bytes but ", available, " data bytes follow"));
  }
  return file;
}

}  // namespace

absl::StatusOr<Tensor> read_idx_images(const std::string& path) {
  absl::StatusOr<IdxFile> file = read_idx(path, 3, "images");
  if (!file.ok()) return file.status();
  const int64_t n = file->dims[0], h = file->dims[1], w = file->dims[2];
  if (h == 0 || w == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": images of size ", h, " x ", w, " are empty"));
  }
  Tensor images = Tensor::empty({n, h, w, 1}, DType::kF32);
  float* dst = images.data<float>();
  const unsigned char* src = file->data();
  const int64_t count = n * h * w;
  for (int64_t i = 0; i < count; ++i) dst[i] = static_cast<float>(src[i]) * (1.0f / 255.0f);
  return images;
}

absl::StatusOr<Tensor> read_idx_labels(const std::string& path, int64_t num_classes) {
  if (num_classes < 1 || num_classes > 256) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": num_classes ", num_classes, " must be in [1, 256]"));
  }
  absl::StatusOr<IdxFile> file = read_idx(path, 1, "labels");
  if (!file.ok()) return file.status();
  const int64_t n = file->dims[0];
  Tensor labels = Tensor::empty({n}, DType::kI64);
  int64_t* dst = labels.data<int64_t>();
  const unsigned char* src = file->data();
  for (int64_t i = 0; i < n; ++i) {
    if (src[i] >= num_classes) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": label ", int{src[i]}, " of example ",
                                                     i, " is out of range [0, ", num_classes, ")"));
    }
    dst[i] = src[i];
  }
  return labels;
}

absl::StatusOr<LabeledImages> read_idx_dataset(const std::string& images_path,
                                               const std::string& labels_path,
                                               int64_t num_classes) {
  absl::StatusOr<Tensor> images = read_idx_images(images_path);
  if (!images.ok()) return images.status();
  absl::StatusOr<Tensor> labels = read_idx_labels(labels_path, num_classes);
  if (!labels.ok()) return labels.status();
  if (images->size(0) != labels->size(0)) {
    return absl::InvalidArgumentError(absl::StrCat(images_path, " holds ", images->size(0),
                                                   " images but ", labels_path, " holds ",
                                                   labels->size(0), " labels"));
  }
  return LabeledImages{*std::move(images), *std::move(labels), num_classes};
}

absl::StatusOr<LabeledImages> load_mnist(const std::string& dir, bool train) {
  const std::string prefix = train ? "train" : "t10k";
  auto find = [&](const std::string& name) -> absl::StatusOr<std::string> {
    const std::filesystem::path base = std::filesystem::path(dir) / name;
    for (const std::string& candidate : {base.string(), base.string() + ".gz"}) {
      std::error_code ec;
      if (std::filesystem::exists(candidate, ec)) return candidate;
    }
    return absl::NotFoundError(absl::StrCat(dir, ": has neither ", name, " nor ", name, ".gz"));
  };
  absl::StatusOr<std::string> images = find(prefix + "-images-idx3-ubyte");
  if (!images.ok()) return images.status();
  absl::StatusOr<std::string> labels = find(prefix + "-labels-idx1-ubyte");
  if (!labels.ok()) return labels.status();
  return read_idx_dataset(*images, *labels, 10);
}

}  // namespace kiln::data
