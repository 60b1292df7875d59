// A minimal PNG writer: 8-bit RGB, no interlacing, one zlib-compressed IDAT
// chunk (filter 0 on every row). For pictures of results, not for data.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace kiln::io {

// The PNG file bytes of an image; `rgb` holds height * width * 3 bytes,
// row-major.
std::string encode_png(const std::vector<uint8_t>& rgb, int64_t height, int64_t width);

// encode_png written to `path` atomically (temporary file, then rename).
absl::Status write_png(const std::string& path, const std::vector<uint8_t>& rgb, int64_t height,
                       int64_t width);

}  // namespace kiln::io
