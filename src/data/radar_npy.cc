// Radar sequences as NumPy .npy files (format in data/radar.h): a strict
// reader that names the file and the field on every error, and an atomic
// writer.
#include <cmath>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "kiln/core/error.h"
#include "kiln/data/radar.h"
#include "kiln/io/file.h"
#include "src/data/file_util.h"

namespace kiln::data {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicSize = 6;

absl::Status invalid(const std::string& path, const std::string& field, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": npy ", field, ": ", what));
}

// The text after "'key':" in the header dict, spaces skipped; npos if absent.
size_t find_value(std::string_view header, const std::string& key) {
  const size_t at = header.find(absl::StrCat("'", key, "'"));
  if (at == std::string_view::npos) return at;
  size_t i = header.find(':', at);
  if (i == std::string_view::npos) return i;
  ++i;
  while (i < header.size() && header[i] == ' ') ++i;
  return i;
}

struct Header {
  std::string descr;
  bool fortran_order = false;
  std::vector<int64_t> shape;
};

absl::StatusOr<Header> parse_header(const std::string& path, std::string_view text) {
  Header h;
  const size_t d = find_value(text, "descr");
  if (d == std::string_view::npos || d >= text.size() || (text[d] != '\'' && text[d] != '"')) {
    return invalid(path, "header field 'descr'", "missing or not a string");
  }
  const size_t d_end = text.find(text[d], d + 1);
  if (d_end == std::string_view::npos)
    return invalid(path, "header field 'descr'", "unterminated string");
  h.descr = std::string(text.substr(d + 1, d_end - d - 1));

  const size_t f = find_value(text, "fortran_order");
  if (f == std::string_view::npos) return invalid(path, "header field 'fortran_order'", "missing");
  if (text.substr(f, 5) == "False") {
    h.fortran_order = false;
  } else if (text.substr(f, 4) == "True") {
    h.fortran_order = true;
  } else {
    return invalid(path, "header field 'fortran_order'", "not True or False");
  }

  const size_t s = find_value(text, "shape");
  if (s == std::string_view::npos || s >= text.size() || text[s] != '(') {
    return invalid(path, "header field 'shape'", "missing or not a tuple");
  }
  const size_t s_end = text.find(')', s);
  if (s_end == std::string_view::npos)
    return invalid(path, "header field 'shape'", "unterminated tuple");
  std::string_view dims = text.substr(s + 1, s_end - s - 1);
  while (!dims.empty()) {
    while (!dims.empty() && (dims.front() == ' ' || dims.front() == ',')) dims.remove_prefix(1);
    if (dims.empty()) break;
    int64_t value = 0;
    size_t digits = 0;
    while (digits < dims.size() && dims[digits] >= '0' && dims[digits] <= '9') {
      if (value > (int64_t{1} << 40))
        return invalid(path, "header field 'shape'", "dimension too large");
      value = value * 10 + (dims[digits] - '0');
      ++digits;
    }
    if (digits == 0) {
      return invalid(path, "header field 'shape'",
                     absl::StrCat("'", std::string(text.substr(s, s_end - s + 1)),
                                  "' is not a tuple of integers"));
    }
    h.shape.push_back(value);
    dims.remove_prefix(digits);
  }
  return h;
}

std::string shape_text(const std::vector<int64_t>& shape) {
  return absl::StrCat("(", absl::StrJoin(shape, ", "), ")");
}

}  // namespace

absl::StatusOr<Tensor> read_radar_npy(const std::string& path) {
  absl::StatusOr<std::string> file = io::read_file(path);
  if (!file.ok()) return file.status();
  const std::string& bytes = *file;
  if (bytes.size() < kMagicSize + 2 || std::memcmp(bytes.data(), kMagic, kMagicSize) != 0) {
    return invalid(path, "magic", "not an npy file (expected \\x93NUMPY)");
  }
  const auto major = static_cast<unsigned char>(bytes[6]);
  if (major != 1 && major != 2 && major != 3) {
    return invalid(path, "version", absl::StrCat(major, " is not 1, 2 or 3"));
  }
  const size_t len_size = major == 1 ? 2 : 4;
  if (bytes.size() < 8 + len_size) {
    return absl::DataLossError(absl::StrCat(path, ": npy header length: truncated"));
  }
  size_t header_len = 0;
  for (size_t i = 0; i < len_size; ++i) {
    header_len |= static_cast<size_t>(static_cast<unsigned char>(bytes[8 + i])) << (8 * i);
  }
  const size_t data_offset = 8 + len_size + header_len;
  if (bytes.size() < data_offset) {
    return absl::DataLossError(absl::StrCat(path, ": npy header: truncated (", bytes.size(),
                                            " bytes, header ends at ", data_offset, ")"));
  }
  absl::StatusOr<Header> header =
      parse_header(path, std::string_view(bytes).substr(8 + len_size, header_len));
  if (!header.ok()) return header.status();
  if (header->descr != "<f4") {
    return invalid(path, "header field 'descr'",
                   absl::StrCat("'", header->descr, "', expected '<f4' (float32 little-endian)"));
  }
  if (header->fortran_order) {
    return invalid(path, "header field 'fortran_order'", "True, expected False (C order)");
  }
  std::vector<int64_t> shape = header->shape;
  const bool rank_ok = shape.size() == 4 || (shape.size() == 5 && shape[4] == 1);
  if (!rank_ok) {
    return invalid(path, "header field 'shape'",
                   absl::StrCat(shape_text(shape), ", expected (N, T, H, W) or (N, T, H, W, 1)"));
  }
  if (shape.size() == 4) shape.push_back(1);
  for (int64_t s : shape) {
    if (s == 0)
      return invalid(path, "header field 'shape'",
                     absl::StrCat(shape_text(header->shape), " is empty"));
  }
  const size_t actual = bytes.size() - data_offset;
  // The element count, stopping before it overflows (or passes the file).
  int64_t n = 1;
  for (int k = 0; k < 4; ++k) {
    if (shape[k] > static_cast<int64_t>(actual / 4 + 1) / n) {
      return absl::DataLossError(absl::StrCat(path, ": npy data: truncated: ", actual,
                                              " bytes for shape ", shape_text(header->shape)));
    }
    n *= shape[k];
  }
  const size_t expected = static_cast<size_t>(n) * 4;
  if (actual < expected) {
    return absl::DataLossError(absl::StrCat(path, ": npy data: truncated: ", actual,
                                            " bytes for shape ", shape_text(header->shape),
                                            ", expected ", expected));
  }
  if (actual > expected) {
    return invalid(
        path, "data",
        absl::StrCat(actual - expected, " bytes after the ", shape_text(header->shape), " array"));
  }
  Tensor out = Tensor::empty({shape[0], shape[1], shape[2], shape[3], 1});  // (N, T, H, W, 1)
  float* dst = out.data<float>();
  std::memcpy(dst, bytes.data() + data_offset, expected);  // little-endian host (x86)
  for (int64_t i = 0; i < n; ++i) {
    const float value = dst[i];
    if (std::isfinite(value) && value >= 0 && value <= kMaxRadarRate) continue;
    int64_t r = i;
    std::vector<int64_t> at(4);
    for (int k = 3; k >= 0; --k) {
      at[k] = r % shape[k];
      r /= shape[k];
    }
    const char* why = !std::isfinite(value) ? "is not finite"
                      : value < 0           ? "is negative (rain rates are >= 0 mm/h)"
                                            : "exceeds the plausible maximum rain rate";
    return invalid(path, "data",
                   absl::StrCat("value ", value, " at (n, t, h, w) = ", shape_text(at), " ", why,
                                " (allowed: finite, 0 to ", kMaxRadarRate, " mm/h)"));
  }
  return out;
}

absl::Status write_radar_npy(const std::string& path, const Tensor& sequences) {
  const bool ok = sequences.defined() && sequences.dtype() == DType::kF32 &&
                  (sequences.dim() == 4 || (sequences.dim() == 5 && sequences.size(4) == 1));
  if (!ok) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": write_radar_npy expects (N, T, H, W[, 1]) f32, got ",
                     sequences.defined() ? shape_str(sequences.shape()) : "undefined"));
  }
  const Tensor src = as_contiguous(sequences);  // (N, T, H, W[, 1])
  std::string header =
      absl::StrCat("{'descr': '<f4', 'fortran_order': False, 'shape': (", src.size(0), ", ",
                   src.size(1), ", ", src.size(2), ", ", src.size(3), ", 1), }");
  // Pad with spaces and a newline so the data starts 64-byte aligned.
  const size_t total = (10 + header.size() + 1 + 63) / 64 * 64;
  header.append(total - 10 - header.size() - 1, ' ');
  header.push_back('\n');
  std::string prefix(kMagic, kMagicSize);
  prefix.push_back('\x01');
  prefix.push_back('\x00');
  prefix.push_back(static_cast<char>(header.size() & 0xff));
  prefix.push_back(static_cast<char>(header.size() >> 8));

  std::string bytes = prefix + header;
  bytes.append(reinterpret_cast<const char*>(src.data<float>()),
               static_cast<size_t>(src.numel()) * sizeof(float));
  return io::write_file_atomic(path, bytes);
}

DatasetPtr radar_sequences_dataset(const Tensor& sequences, int64_t begin, int64_t end) {
  KILN_CHECK(sequences.defined() && sequences.dim() == 5 && sequences.size(4) == 1 &&
                 sequences.dtype() == DType::kF32,
             "radar_sequences_dataset: expects (N, T, H, W, 1) f32, got ",
             sequences.defined() ? shape_str(sequences.shape()) : "undefined");
  return slice(tensor_dataset(TensorMap{{kFramesKey, sequences}}), begin, end);
}

}  // namespace kiln::data
