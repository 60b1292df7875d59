// safetensors files: kiln's checkpoint and golden-fixture format, readable
// by PyTorch, JAX and the Hugging Face tools.
//
// Layout: an 8-byte little-endian u64 header length N, N bytes of UTF-8 JSON
// (padded with spaces to a multiple of 8),
//   {"__metadata__": {"key": "value", ...},
//    "name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...}
// then the data buffer: every tensor row-major and little-endian, at byte
// offsets relative to the buffer start, the ranges tiling the buffer exactly.
// kiln reads and writes the dtypes it has: F32, F64, BF16, I32, I64, BOOL.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "kiln/tensor/tensor.h"

namespace kiln {

// The content of a safetensors file, in header order.
struct SafetensorsFile {
  std::vector<std::string> names;
  std::vector<Tensor> tensors;  // tensors[i] is names[i]; contiguous, owning its data
  std::map<std::string, std::string> metadata;

  // The tensor called `name`, or nullptr.
  const Tensor* find(std::string_view name) const;
};

// Writes `tensors` (any strides; written contiguous, in the given order) and
// `metadata` to `path` atomically: a temporary file in the same directory is
// written, flushed and fsynced, then renamed over `path`, and the directory is
// fsynced. On failure the previous file at `path` is untouched and the
// temporary is removed. Names must be unique and not "__metadata__"; tensors
// must be defined.
absl::Status save_safetensors(const std::string& path,
                              const std::vector<std::pair<std::string, Tensor>>& tensors,
                              const std::map<std::string, std::string>& metadata = {});

// Reads and validates a whole file. Any malformed, truncated or inconsistent
// content gives an error naming the file and the problem; nothing is trusted
// before it is checked against the file size.
absl::StatusOr<SafetensorsFile> load_safetensors(const std::string& path);

}  // namespace kiln
