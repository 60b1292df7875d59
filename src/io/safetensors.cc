// safetensors reader and atomic writer. The reader treats the file as
// hostile: every number in the header is checked against the file size (with
// overflow checks) before anything is allocated or read.
#include "kiln/io/safetensors.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"

namespace kiln {
namespace {

static_assert(std::endian::native == std::endian::little,
              "safetensors data is little-endian; kiln writes its memory as is");

using Json = nlohmann::ordered_json;  // keeps header order

// The reference implementation's limit: larger headers are refused before
// they are read.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;
constexpr char kMetadataKey[] = "__metadata__";

const char* safetensors_dtype_name(DType dtype) {
  switch (dtype) {
    case DType::kF32:
      return "F32";
    case DType::kF64:
      return "F64";
    case DType::kBF16:
      return "BF16";
    case DType::kI32:
      return "I32";
    case DType::kI64:
      return "I64";
    case DType::kBool:
      return "BOOL";
  }
  return "?";
}

std::optional<DType> parse_dtype(const std::string& name) {
  for (DType d : {DType::kF32, DType::kF64, DType::kBF16, DType::kI32, DType::kI64, DType::kBool}) {
    if (name == safetensors_dtype_name(d)) return d;
  }
  return std::nullopt;
}

// Dtypes of the format that kiln has no type for.
bool is_other_safetensors_dtype(const std::string& name) {
  static const char* const kOthers[] = {"F16",     "U8",      "I8",      "I16",     "U16",
                                        "U32",     "U64",     "F8_E5M2", "F8_E4M3", "F8_E8M0",
                                        "F6_E2M3", "F6_E3M2", "F4",      "C64"};
  return std::find(std::begin(kOthers), std::end(kOthers), name) != std::end(kOthers);
}

// Closes a file descriptor on scope exit.
class FdCloser {
 public:
  explicit FdCloser(int fd) : fd_(fd) {}
  ~FdCloser() {
    if (fd_ >= 0) ::close(fd_);
  }
  FdCloser(const FdCloser&) = delete;
  FdCloser& operator=(const FdCloser&) = delete;

 private:
  int fd_;
};

// ---------------------------------------------------------------- reading

absl::Status format_error(const std::string& path, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat("safetensors file ", path, ": ", what));
}

absl::Status os_error(int err, const std::string& what, const std::string& path) {
  return absl::ErrnoToStatus(err, absl::StrCat("safetensors: ", what, " ", path));
}

// Reads exactly `n` bytes at `offset`; an early end of file is an error.
absl::Status read_at(int fd, const std::string& path, uint64_t offset, void* dst, uint64_t n) {
  auto* out = static_cast<char*>(dst);
  while (n > 0) {
    const size_t chunk = static_cast<size_t>(std::min<uint64_t>(n, 1u << 30));
    const ssize_t got = ::pread(fd, out, chunk, static_cast<off_t>(offset));
    if (got < 0) {
      if (errno == EINTR) continue;
      return os_error(errno, "cannot read", path);
    }
    if (got == 0) {
      return format_error(path, absl::StrCat("file ended at byte ", offset, " while reading ", n,
                                             " more bytes (was it truncated while loading?)"));
    }
    out += got;
    offset += static_cast<uint64_t>(got);
    n -= static_cast<uint64_t>(got);
  }
  return absl::OkStatus();
}

// Thrown from the parser callback to stop parsing at the first problem.
struct HeaderProblem {
  std::string what;
};

// Parses the header, refusing duplicate keys (nlohmann would keep the last
// one silently) and nesting deeper than a safetensors header has.
absl::StatusOr<Json> parse_header(const std::string& path, const std::string& text) {
  std::vector<std::set<std::string>> keys;  // keys seen in each open object
  const Json::parser_callback_t callback = [&](int depth, nlohmann::json::parse_event_t event,
                                               Json& parsed) {
    using Event = nlohmann::json::parse_event_t;
    switch (event) {
      case Event::object_start:
      case Event::array_start:
        // top (0) -> entry or __metadata__ (1) -> shape / data_offsets (2)
        if (depth > 2) throw HeaderProblem{"header nests objects or arrays too deeply"};
        if (event == Event::object_start) keys.emplace_back();
        break;
      case Event::object_end:
        keys.pop_back();
        break;
      case Event::key: {
        const std::string& key = parsed.get_ref<const std::string&>();
        if (!keys.back().insert(key).second) {
          throw HeaderProblem{depth == 1 ? absl::StrCat("duplicate tensor name '", key, "'")
                                         : absl::StrCat("duplicate key '", key, "' in an entry")};
        }
        break;
      }
      default:
        break;
    }
    return true;
  };
  try {
    return Json::parse(text, callback, /*allow_exceptions=*/true, /*ignore_comments=*/false);
  } catch (const HeaderProblem& problem) {
    return format_error(path, problem.what);
  } catch (const nlohmann::json::exception& e) {
    return format_error(path, absl::StrCat("header is not valid JSON: ", e.what()));
  }
}

// "an array", "a number", ... for messages.
std::string a_type(const Json& value) {
  const std::string name = value.type_name();
  return absl::StrCat(name[0] == 'a' || name[0] == 'o' ? "an " : "a ", name);
}

// Reads a non-negative integer that fits in uint64 (JSON floats, even 2.0,
// are refused).
bool as_uint(const Json& value, uint64_t& out) {
  if (value.is_number_unsigned()) {
    out = value.get<uint64_t>();
    return true;
  }
  if (value.is_number_integer() && value.get<int64_t>() >= 0) {
    out = value.get<uint64_t>();
    return true;
  }
  return false;
}

struct Entry {
  std::string name;
  DType dtype = DType::kF32;
  Shape shape;
  uint64_t begin = 0;
  uint64_t end = 0;
};

// Checks one tensor entry of the header against the data buffer size.
absl::StatusOr<Entry> parse_entry(const std::string& path, const std::string& name,
                                  const Json& value, uint64_t buffer_size) {
  const std::string where = absl::StrCat("tensor '", name, "': ");
  if (!value.is_object()) {
    return format_error(path, absl::StrCat(where, "entry is ", a_type(value),
                                           ", expected an object with dtype, shape and "
                                           "data_offsets"));
  }
  for (const auto& item : value.items()) {
    if (item.key() != "dtype" && item.key() != "shape" && item.key() != "data_offsets") {
      return format_error(path, absl::StrCat(where, "unknown key '", item.key(), "'"));
    }
  }
  for (const char* key : {"dtype", "shape", "data_offsets"}) {
    if (!value.contains(key)) return format_error(path, absl::StrCat(where, "missing '", key, "'"));
  }
  Entry entry;
  entry.name = name;

  const Json& dtype = value["dtype"];
  if (!dtype.is_string()) {
    return format_error(path,
                        absl::StrCat(where, "dtype is ", a_type(dtype), ", expected a string"));
  }
  const std::string& dtype_str = dtype.get_ref<const std::string&>();
  const std::optional<DType> parsed_dtype = parse_dtype(dtype_str);
  if (!parsed_dtype) {
    return format_error(
        path,
        absl::StrCat(where, is_other_safetensors_dtype(dtype_str) ? "dtype " : "unknown dtype ",
                     dtype_str,
                     is_other_safetensors_dtype(dtype_str) ? " is not supported by kiln" : "",
                     " (kiln reads F32, F64, BF16, I32, I64, BOOL)"));
  }
  entry.dtype = *parsed_dtype;

  const Json& shape = value["shape"];
  if (!shape.is_array()) {
    return format_error(path, absl::StrCat(where, "shape is ", a_type(shape),
                                           ", expected a list of non-negative integers"));
  }
  // The product of the nonzero dims must fit int64 even when a zero dim makes
  // the tensor empty: strides are computed from it.
  uint64_t extent = 1;
  bool empty = false;
  for (const Json& dim : shape) {
    uint64_t d = 0;
    if (!as_uint(dim, d)) {
      return format_error(path, absl::StrCat(where, "shape ", shape.dump(),
                                             " is not a list of non-negative integers"));
    }
    if (__builtin_mul_overflow(extent, std::max<uint64_t>(d, 1), &extent) ||
        extent > static_cast<uint64_t>(INT64_MAX)) {
      return format_error(path, absl::StrCat(where, "shape ", shape.dump(), " is too large"));
    }
    entry.shape.push_back(static_cast<int64_t>(d));
    empty = empty || d == 0;
  }
  const uint64_t numel = empty ? 0 : extent;

  const Json& offsets = value["data_offsets"];
  const bool pair = offsets.is_array() && offsets.size() == 2;
  if (!pair || !as_uint(offsets[0], entry.begin) || !as_uint(offsets[1], entry.end) ||
      entry.begin > entry.end) {
    return format_error(path, absl::StrCat(where, "data_offsets ", offsets.dump(),
                                           " is not [begin, end] with 0 <= begin <= end"));
  }

  const uint64_t element_size = static_cast<uint64_t>(dtype_size(entry.dtype));
  uint64_t nbytes = 0;
  const bool overflow = __builtin_mul_overflow(numel, element_size, &nbytes);
  if (overflow || nbytes != entry.end - entry.begin) {
    return format_error(
        path,
        absl::StrCat(where, "data_offsets ", offsets.dump(), " hold ", entry.end - entry.begin,
                     " bytes but shape ", shape.dump(), " of ", dtype_str, " needs ",
                     overflow ? std::string("more than 2^64") : absl::StrCat(nbytes)));
  }
  if (entry.end > buffer_size) {
    return format_error(path, absl::StrCat(where, "data_offsets ", offsets.dump(),
                                           " end beyond the end of the file (the data buffer "
                                           "holds ",
                                           buffer_size, " bytes; truncated file?)"));
  }
  return entry;
}

// The ranges must tile [0, buffer_size) exactly: no gaps, no overlaps.
absl::Status check_tiling(const std::string& path, std::vector<const Entry*> entries,
                          uint64_t buffer_size) {
  std::sort(entries.begin(), entries.end(), [](const Entry* a, const Entry* b) {
    return std::pair(a->begin, a->end) < std::pair(b->begin, b->end);
  });
  uint64_t covered = 0;
  const Entry* previous = nullptr;
  for (const Entry* e : entries) {
    if (e->begin > covered) {
      return format_error(path, absl::StrCat("bytes [", covered, ", ", e->begin,
                                             ") of the data buffer belong to no tensor (gap "
                                             "before tensor '",
                                             e->name, "')"));
    }
    if (e->begin < covered) {
      return format_error(path, absl::StrCat("tensor '", e->name, "' [", e->begin, ", ", e->end,
                                             ") overlaps tensor '", previous->name, "' [",
                                             previous->begin, ", ", previous->end, ")"));
    }
    covered = e->end;
    previous = e;
  }
  if (covered != buffer_size) {
    return format_error(path, absl::StrCat("the data buffer holds ", buffer_size,
                                           " bytes but the tensors cover only ", covered,
                                           " (trailing bytes belong to no tensor)"));
  }
  return absl::OkStatus();
}

absl::Status parse_metadata(const std::string& path, const Json& value,
                            std::map<std::string, std::string>& metadata) {
  if (!value.is_object()) {
    return format_error(
        path, absl::StrCat("__metadata__ is ", a_type(value), ", expected an object of strings"));
  }
  for (const auto& item : value.items()) {
    if (!item.value().is_string()) {
      return format_error(
          path, absl::StrCat("unsupported metadata: value of '", item.key(), "' is ",
                             a_type(item.value()), "; safetensors metadata holds strings only"));
    }
    metadata[item.key()] = item.value().get<std::string>();
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------- writing

std::atomic<uint64_t> temp_counter{0};

// Writes the whole file to an open stream.
bool write_all(std::FILE* file, const std::string& header,
               const std::vector<std::pair<std::string, Tensor>>& tensors) {
  unsigned char length[8];
  uint64_t n = header.size();
  for (unsigned char& byte : length) {
    byte = static_cast<unsigned char>(n & 0xff);
    n >>= 8;
  }
  if (std::fwrite(length, 1, 8, file) != 8) return false;
  if (std::fwrite(header.data(), 1, header.size(), file) != header.size()) return false;
  for (const auto& [name, tensor] : tensors) {
    const Tensor c = as_contiguous(tensor);
    const auto nbytes = static_cast<size_t>(c.nbytes());
    if (nbytes > 0 && std::fwrite(c.raw_data(), 1, nbytes, file) != nbytes) return false;
  }
  return std::fflush(file) == 0;
}

absl::StatusOr<std::string> make_header(const std::vector<std::pair<std::string, Tensor>>& tensors,
                                        const std::map<std::string, std::string>& metadata,
                                        const std::string& path) {
  Json header = Json::object();
  if (!metadata.empty()) {
    Json meta = Json::object();
    for (const auto& [key, value] : metadata) meta[key] = value;
    header[kMetadataKey] = std::move(meta);
  }
  std::set<std::string> seen;
  uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    if (name == kMetadataKey) {
      return absl::InvalidArgumentError(
          absl::StrCat("save_safetensors ", path, ": '__metadata__' cannot name a tensor"));
    }
    if (!seen.insert(name).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("save_safetensors ", path, ": duplicate tensor name '", name, "'"));
    }
    if (!tensor.defined()) {
      return absl::InvalidArgumentError(
          absl::StrCat("save_safetensors ", path, ": tensor '", name, "' is undefined"));
    }
    const auto nbytes = static_cast<uint64_t>(tensor.nbytes());
    Json entry = Json::object();
    entry["dtype"] = safetensors_dtype_name(tensor.dtype());
    entry["shape"] = std::vector<int64_t>(tensor.shape().begin(), tensor.shape().end());
    entry["data_offsets"] = {offset, offset + nbytes};
    header[name] = std::move(entry);
    offset += nbytes;
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(
        "save_safetensors ", path, ": a name or metadata string is not valid UTF-8: ", e.what()));
  }
  // Pads so that the data buffer starts 8-byte aligned, as the reference writer does.
  text.append((8 - text.size() % 8) % 8, ' ');
  return text;
}

// fsyncs a directory so a rename in it is durable. Some file systems do not
// support it (EINVAL); that is not an error.
absl::Status sync_directory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return os_error(errno, "cannot open directory", dir);
  FdCloser closer(fd);
  if (::fsync(fd) != 0 && errno != EINVAL) return os_error(errno, "cannot fsync directory", dir);
  return absl::OkStatus();
}

}  // namespace

const Tensor* SafetensorsFile::find(std::string_view name) const {
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == name) return &tensors[i];
  }
  return nullptr;
}

absl::StatusOr<SafetensorsFile> load_safetensors(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return os_error(errno, "cannot open", path);
  FdCloser closer(fd);
  struct stat st;
  if (::fstat(fd, &st) != 0) return os_error(errno, "cannot stat", path);
  if (!S_ISREG(st.st_mode)) return format_error(path, "not a regular file");
  const auto file_size = static_cast<uint64_t>(st.st_size);

  if (file_size < 8) {
    return format_error(
        path, absl::StrCat("file is ", file_size, " bytes, shorter than the 8-byte header length"));
  }
  unsigned char length_bytes[8];
  if (absl::Status s = read_at(fd, path, 0, length_bytes, 8); !s.ok()) return s;
  uint64_t header_size = 0;
  for (int i = 7; i >= 0; --i) header_size = (header_size << 8) | length_bytes[i];
  if (header_size > file_size - 8) {
    return format_error(
        path, absl::StrCat("header length ", header_size, " exceeds the file size (", file_size,
                           " bytes; truncated file?)"));
  }
  if (header_size > kMaxHeaderBytes) {
    return format_error(path, absl::StrCat("header length ", header_size, " exceeds the limit of ",
                                           kMaxHeaderBytes, " bytes"));
  }
  std::string text(header_size, '\0');
  if (absl::Status s = read_at(fd, path, 8, text.data(), header_size); !s.ok()) return s;
  // A raw NUL is never valid JSON, but nlohmann stops reading at one.
  if (const size_t nul = text.find('\0'); nul != std::string::npos) {
    return format_error(path,
                        absl::StrCat("header is not valid JSON: NUL byte at header offset ", nul));
  }
  if (text.empty() || text[0] != '{') {
    return format_error(path, "header does not start with '{' (not a safetensors file?)");
  }
  absl::StatusOr<Json> header = parse_header(path, text);
  if (!header.ok()) return header.status();
  if (!header->is_object()) return format_error(path, "header is not a JSON object");

  const uint64_t data_start = 8 + header_size;
  const uint64_t buffer_size = file_size - data_start;
  SafetensorsFile result;
  std::vector<Entry> entries;
  entries.reserve(header->size());
  for (const auto& item : header->items()) {
    if (item.key() == kMetadataKey) {
      if (absl::Status s = parse_metadata(path, item.value(), result.metadata); !s.ok()) return s;
      continue;
    }
    absl::StatusOr<Entry> entry = parse_entry(path, item.key(), item.value(), buffer_size);
    if (!entry.ok()) return entry.status();
    entries.push_back(*std::move(entry));
  }
  std::vector<const Entry*> pointers;
  for (const Entry& e : entries) pointers.push_back(&e);
  if (absl::Status s = check_tiling(path, std::move(pointers), buffer_size); !s.ok()) return s;

  for (const Entry& e : entries) {
    Tensor t = Tensor::empty(e.shape, e.dtype);
    if (absl::Status s = read_at(fd, path, data_start + e.begin, t.raw_data(), e.end - e.begin);
        !s.ok()) {
      return s;
    }
    if (e.dtype == DType::kBool) {
      // Any byte but 0 and 1 is not a bool (and undefined behaviour to read as one).
      const auto* bytes = static_cast<const unsigned char*>(t.raw_data());
      for (int64_t i = 0; i < t.numel(); ++i) {
        if (bytes[i] > 1) {
          return format_error(path, absl::StrCat("tensor '", e.name, "': BOOL element ", i,
                                                 " holds byte ", bytes[i], ", expected 0 or 1"));
        }
      }
    }
    result.names.push_back(e.name);
    result.tensors.push_back(std::move(t));
  }
  return result;
}

absl::Status save_safetensors(const std::string& path,
                              const std::vector<std::pair<std::string, Tensor>>& tensors,
                              const std::map<std::string, std::string>& metadata) {
  absl::StatusOr<std::string> header = make_header(tensors, metadata, path);
  if (!header.ok()) return header.status();

  const std::filesystem::path target(path);
  const std::string base = target.filename().string();
  if (base.empty() || base == "." || base == "..") {
    return absl::InvalidArgumentError(
        absl::StrCat("save_safetensors: ", path, " does not name a file"));
  }
  const std::string dir = target.has_parent_path() ? target.parent_path().string() : ".";

  // A fresh temporary next to the target, so that the rename is atomic.
  std::string temp;
  int fd = -1;
  for (int attempt = 0; attempt < 100 && fd < 0; ++attempt) {
    temp = absl::StrCat(dir, "/.", base, ".tmp.", ::getpid(), ".", temp_counter.fetch_add(1));
    fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0 && errno != EEXIST) break;
  }
  if (fd < 0) return os_error(errno, "cannot create a temporary file for", path);

  std::FILE* file = ::fdopen(fd, "wb");
  if (file == nullptr) {
    const int err = errno;
    ::close(fd);
    ::unlink(temp.c_str());
    return os_error(err, "cannot open a stream for", temp);
  }
  bool written = false;
  try {
    written = write_all(file, *header, tensors);
  } catch (const std::exception&) {  // e.g. bad_alloc making a view contiguous
    errno = ENOMEM;
  }
  int err = errno;
  const bool synced = written && ::fsync(::fileno(file)) == 0;
  if (written && !synced) err = errno;
  const bool closed = std::fclose(file) == 0;
  if (written && synced && !closed) err = errno;
  if (!written || !synced || !closed) {
    ::unlink(temp.c_str());
    if (err == 0) err = EIO;  // errno 0 would read as success
    return os_error(err,
                    !written  ? "cannot write"
                    : !synced ? "cannot fsync"
                              : "cannot close",
                    temp);
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    err = errno;
    ::unlink(temp.c_str());
    return os_error(err, absl::StrCat("cannot rename ", temp, " to"), path);
  }
  return sync_directory(dir);
}

}  // namespace kiln
