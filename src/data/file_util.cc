#include "src/data/file_util.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "kiln/io/file.h"

namespace kiln::data::detail {
namespace {

// Refuses to inflate past this: a few bytes of gzip can claim gigabytes.
constexpr size_t kMaxInflatedBytes = size_t{8} << 30;

bool is_gzip(const std::string& bytes) {
  return bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0x1f &&
         static_cast<unsigned char>(bytes[1]) == 0x8b;
}

}  // namespace

absl::StatusOr<std::string> maybe_gunzip(const std::string& path, std::string bytes) {
  if (!is_gzip(bytes)) return bytes;
  z_stream zs;
  std::memset(&zs, 0, sizeof(zs));
  if (inflateInit2(&zs, 15 + 16) != Z_OK) {  // 16: gzip wrapper only
    return absl::InternalError(absl::StrCat(path, ": cannot initialise zlib"));
  }
  std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&zs, inflateEnd);
  std::string out;
  out.resize(std::min(kMaxInflatedBytes, std::max<size_t>(bytes.size() * 4, 1 << 16)));
  size_t produced = 0;
  size_t consumed = 0;
  while (true) {
    if (produced == out.size()) {
      if (out.size() >= kMaxInflatedBytes) {
        return absl::InvalidArgumentError(
            absl::StrCat(path, ": gzip data inflates to more than ", kMaxInflatedBytes, " bytes"));
      }
      out.resize(std::min(kMaxInflatedBytes, out.size() * 2));
    }
    // zlib counts in uInt: feed and drain at most 1 GiB per call.
    const size_t in_chunk = std::min<size_t>(bytes.size() - consumed, size_t{1} << 30);
    const size_t out_chunk = std::min<size_t>(out.size() - produced, size_t{1} << 30);
    zs.next_in = reinterpret_cast<Bytef*>(bytes.data() + consumed);
    zs.avail_in = static_cast<uInt>(in_chunk);
    zs.next_out = reinterpret_cast<Bytef*>(out.data() + produced);
    zs.avail_out = static_cast<uInt>(out_chunk);
    const int rc = inflate(&zs, Z_NO_FLUSH);
    consumed += in_chunk - zs.avail_in;
    produced += out_chunk - zs.avail_out;
    if (rc == Z_STREAM_END) {
      if (consumed == bytes.size()) break;
      // Another gzip member may follow (as `cat a.gz b.gz` makes).
      const std::string rest_head = bytes.substr(consumed, 2);
      if (!is_gzip(rest_head)) {
        return absl::DataLossError(absl::StrCat(path, ": ", bytes.size() - consumed,
                                                " unexpected bytes after the gzip stream"));
      }
      inflateReset(&zs);
      continue;
    }
    if (rc == Z_DATA_ERROR || rc == Z_NEED_DICT || rc == Z_MEM_ERROR) {
      return absl::DataLossError(absl::StrCat(path, ": corrupt gzip data at byte ", consumed, ": ",
                                              zs.msg ? zs.msg : "inflate failed"));
    }
    if (rc == Z_BUF_ERROR || rc == Z_OK) {
      // No progress possible: input used up before the stream's end.
      if (consumed == bytes.size() && produced < out.size()) {
        return absl::DataLossError(
            absl::StrCat(path, ": truncated gzip data: the stream ends early after ", bytes.size(),
                         " compressed bytes"));
      }
      continue;
    }
    return absl::DataLossError(absl::StrCat(path, ": gzip error ", rc));
  }
  out.resize(produced);
  return out;
}

absl::StatusOr<std::string> read_maybe_gzipped(const std::string& path) {
  absl::StatusOr<std::string> bytes = io::read_file(path);
  if (!bytes.ok()) return bytes.status();
  return maybe_gunzip(path, *std::move(bytes));
}

}  // namespace kiln::data::detail
