#include "kiln/io/png.h"

#include <zlib.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "kiln/core/error.h"
#include "kiln/io/file.h"

namespace kiln::io {
namespace {

void put_u32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((v >> shift) & 0xff));
}

// Length, type, data, and the CRC of type and data.
void put_chunk(std::string& out, const char* type, const std::string& data) {
  put_u32(out, static_cast<uint32_t>(data.size()));
  const size_t start = out.size();
  out.append(type, 4);
  out += data;
  const uLong crc = crc32(0L, reinterpret_cast<const Bytef*>(out.data() + start),
                          static_cast<uInt>(out.size() - start));
  put_u32(out, static_cast<uint32_t>(crc));
}

}  // namespace

std::string encode_png(const std::vector<uint8_t>& rgb, int64_t height, int64_t width) {
  KILN_CHECK(height >= 1 && width >= 1 && height < (int64_t{1} << 31) && width < (int64_t{1} << 31),
             "encode_png: invalid size ", height, " x ", width);
  KILN_CHECK(static_cast<int64_t>(rgb.size()) == height * width * 3, "encode_png: ", rgb.size(),
             " bytes for a ", height, " x ", width, " RGB image");
  // Each row: filter type 0 (none), then the pixels.
  std::string raw;
  raw.reserve(static_cast<size_t>(height * (width * 3 + 1)));
  for (int64_t y = 0; y < height; ++y) {
    raw.push_back('\0');
    raw.append(reinterpret_cast<const char*>(rgb.data() + y * width * 3),
               static_cast<size_t>(width * 3));
  }
  uLongf packed_size = compressBound(static_cast<uLong>(raw.size()));
  std::string packed(packed_size, '\0');
  const int rc = compress2(reinterpret_cast<Bytef*>(packed.data()), &packed_size,
                           reinterpret_cast<const Bytef*>(raw.data()),
                           static_cast<uLong>(raw.size()), Z_BEST_COMPRESSION);
  KILN_CHECK(rc == Z_OK, "encode_png: zlib compress2 failed with code ", rc);
  packed.resize(packed_size);

  std::string out("\x89PNG\r\n\x1a\n", 8);
  std::string ihdr;
  put_u32(ihdr, static_cast<uint32_t>(width));
  put_u32(ihdr, static_cast<uint32_t>(height));
  ihdr += std::string("\x08\x02\x00\x00\x00", 5);  // 8-bit, RGB, deflate, filter 0, no interlace
  put_chunk(out, "IHDR", ihdr);
  put_chunk(out, "IDAT", packed);
  put_chunk(out, "IEND", "");
  return out;
}

absl::Status write_png(const std::string& path, const std::vector<uint8_t>& rgb, int64_t height,
                       int64_t width) {
  return write_file_atomic(path, encode_png(rgb, height, width));
}

}  // namespace kiln::io
