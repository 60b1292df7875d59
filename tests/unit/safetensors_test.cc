#include "kiln/io/safetensors.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "kiln/ops/shape.h"
#include "kiln/tensor/tensor.h"
#include "support/temp_dir.h"

namespace kiln {
namespace {

namespace fs = std::filesystem;

// A fresh directory per test, removed afterwards.
class Safetensors : public ::testing::Test {
 protected:
  // A test may leave the directory read-only; TempDir removes it after this.
  void TearDown() override { ::chmod(dir_.c_str(), 0755); }
  std::string path(const std::string& name) const { return (fs::path(dir_) / name).string(); }
  std::vector<std::string> entries() const {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir_)) names.push_back(e.path().filename());
    std::sort(names.begin(), names.end());
    return names;
  }

  kiln::testing::TempDir tmp_;
  std::string dir_ = tmp_.path().string();
};

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string u64_le(uint64_t n) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out;
}

// 8-byte length + header (not padded: the format allows any length) + data.
std::string file_bytes(const std::string& header, const std::string& data) {
  return u64_le(header.size()) + header + data;
}

// Raw bytes of a tensor in memory (contiguous).
std::string tensor_bytes(const Tensor& t) {
  const Tensor c = as_contiguous(t);
  return std::string(static_cast<const char*>(c.raw_data()), static_cast<size_t>(c.nbytes()));
}

TEST_F(Safetensors, RoundTripsEveryDtypeAndEdgeShapes) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  Tensor f32 = from_vector(std::vector<float>{1.5f, -0.0f, nan, inf, -inf, 1e-40f}, {2, 3});
  Tensor f64 = from_vector({1.0 / 3, -2.5e300, 4.9e-324}, {3}, DType::kF64);
  Tensor bf16 = from_vector({1, -2, 0.5, 3.0e38}, {2, 2}, DType::kBF16);
  Tensor i32 = from_vector({2147483647.0, -2147483648.0, 0}, {3}, DType::kI32);
  Tensor i64 = from_vector(std::vector<int64_t>{INT64_MAX, INT64_MIN, -1}, {3, 1});
  Tensor b = from_vector({1, 0, 0, 1, 1}, {5}, DType::kBool);
  Tensor scalar = scalar_tensor(7.25);                    // 0-d
  Tensor empty = Tensor::empty({0, 4}, DType::kF32);      // 0-size
  Tensor empty_i64 = Tensor::empty({3, 0}, DType::kI64);  // 0-size, another dtype
  Tensor view =
      transpose(from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3}), 0, 1);  // not contiguous
  ASSERT_FALSE(view.is_contiguous());
  const std::vector<std::pair<std::string, Tensor>> tensors = {{"f32", f32},
                                                               {"f64", f64},
                                                               {"bf16", bf16},
                                                               {"i32", i32},
                                                               {"i64", i64},
                                                               {"bool", b},
                                                               {"layer.0/scalar", scalar},
                                                               {"empty", empty},
                                                               {"empty_i64", empty_i64},
                                                               {"view", view}};
  const std::map<std::string, std::string> metadata = {
      {"format", "pt"}, {"step", "12"}, {"unicode", "\xc3\xa9t\xc3\xa9"}};
  const std::string file = path("all.safetensors");
  ASSERT_TRUE(save_safetensors(file, tensors, metadata).ok());

  absl::StatusOr<SafetensorsFile> loaded = load_safetensors(file);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->metadata, metadata);
  ASSERT_EQ(loaded->names.size(), tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    const auto& [name, expected] = tensors[i];
    EXPECT_EQ(loaded->names[i], name);  // header order is the given order
    const Tensor& got = loaded->tensors[i];
    EXPECT_EQ(got.dtype(), expected.dtype()) << name;
    EXPECT_EQ(got.shape(), expected.shape()) << name;
    EXPECT_EQ(got.strides(), contiguous_strides(got.shape())) << name;
    EXPECT_EQ(tensor_bytes(got), tensor_bytes(expected)) << name;  // bit exact, NaN included
    ASSERT_NE(loaded->find(name), nullptr);
    EXPECT_EQ(loaded->find(name), &got);
  }
  EXPECT_EQ(loaded->find("missing"), nullptr);
  EXPECT_EQ(to_vector(*loaded->find("view")), (std::vector<double>{1, 4, 2, 5, 3, 6}));
  EXPECT_EQ(loaded->find("layer.0/scalar")->dim(), 0);
  EXPECT_EQ(loaded->find("layer.0/scalar")->item<double>(), 7.25);
  // Loaded tensors own their data: changing one does not touch the source.
  loaded->tensors[0].data<float>()[0] = 9;
  EXPECT_EQ(f32.data<float>()[0], 1.5f);

  // The data buffer starts 8-byte aligned.
  const std::string bytes = read_bytes(file);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes[i]);
  EXPECT_EQ(n % 8, 0u);
  EXPECT_EQ(bytes[8], '{');
}

TEST_F(Safetensors, EmptyFileListRoundTrips) {
  const std::string file = path("none.safetensors");
  ASSERT_TRUE(save_safetensors(file, {}).ok());
  absl::StatusOr<SafetensorsFile> loaded = load_safetensors(file);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_TRUE(loaded->names.empty());
  EXPECT_TRUE(loaded->metadata.empty());
}

// What Python's safetensors.torch.save_file({"w": ..., "step": ..., "h": ...,
// "mask": ...}, metadata={"format": "pt"}) writes: compact JSON, tensors
// sorted by dtype alignment (descending) then name, "__metadata__" first,
// header padded with spaces to a multiple of 8.
const char kPythonHeader[] =
    R"({"__metadata__":{"format":"pt"},"step":{"dtype":"I64","shape":[1],"data_offsets":[0,8]},)"
    R"("w":{"dtype":"F32","shape":[2,2],"data_offsets":[8,24]},)"
    R"("h":{"dtype":"BF16","shape":[3],"data_offsets":[24,30]},)"
    R"("mask":{"dtype":"BOOL","shape":[2],"data_offsets":[30,32]}}     )";

std::string python_file() {
  const std::string header = kPythonHeader;
  const unsigned char data[] = {7,    0,    0,    0,    0, 0,    0, 0,  // step: int64 7
                                0,    0,    0x80, 0x3f,                 // w: 1.0f
                                0,    0,    0,    0x40,                 //    2.0f
                                0,    0,    0x40, 0x40,                 //    3.0f
                                0,    0,    0x80, 0x40,                 //    4.0f
                                0x80, 0x3f, 0,    0xc0, 0, 0x3f,        // h: bf16 1.0, -2.0, 0.5
                                1,    0};                               // mask: true, false
  return u64_le(header.size()) + header +
         std::string(reinterpret_cast<const char*>(data), sizeof(data));
}

TEST_F(Safetensors, LoadsPythonReferenceEncoding) {
  ASSERT_EQ(sizeof(kPythonHeader) - 1, 264u);
  const std::string file = path("python.safetensors");
  write_bytes(file, python_file());
  absl::StatusOr<SafetensorsFile> loaded = load_safetensors(file);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->names, (std::vector<std::string>{"step", "w", "h", "mask"}));
  EXPECT_EQ(loaded->metadata, (std::map<std::string, std::string>{{"format", "pt"}}));
  const Tensor& step = loaded->tensors[0];
  const Tensor& w = loaded->tensors[1];
  const Tensor& h = loaded->tensors[2];
  const Tensor& mask = loaded->tensors[3];
  EXPECT_EQ(step.dtype(), DType::kI64);
  EXPECT_EQ(to_vector(step), (std::vector<double>{7}));
  EXPECT_EQ(w.dtype(), DType::kF32);
  EXPECT_EQ(w.shape(), (Shape{2, 2}));
  EXPECT_EQ(to_vector(w), (std::vector<double>{1, 2, 3, 4}));
  EXPECT_EQ(h.dtype(), DType::kBF16);
  EXPECT_EQ(to_vector(h), (std::vector<double>{1, -2, 0.5}));
  EXPECT_EQ(mask.dtype(), DType::kBool);
  EXPECT_EQ(to_vector(mask), (std::vector<double>{1, 0}));
}

TEST_F(Safetensors, WritesTheReferenceEncodingByteForByte) {
  // Given Python's order, kiln writes the same bytes as the reference writer.
  const std::string file = path("kiln.safetensors");
  ASSERT_TRUE(save_safetensors(file,
                               {{"step", from_vector(std::vector<int64_t>{7}, {1})},
                                {"w", from_vector(std::vector<float>{1, 2, 3, 4}, {2, 2})},
                                {"h", from_vector({1, -2, 0.5}, {3}, DType::kBF16)},
                                {"mask", from_vector({1, 0}, {2}, DType::kBool)}},
                               {{"format", "pt"}})
                  .ok());
  EXPECT_EQ(read_bytes(file), python_file());
}

// A valid two-tensor header for the corruption cases: a (2) f32 then b (1) f32.
const char kGoodHeader[] = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                           R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})";
const std::string kTwelveBytes(12, '\0');

struct Corruption {
  const char* what;
  std::string bytes;
  const char* error;  // expected part of the message
};

TEST_F(Safetensors, CorruptFilesGiveErrorsNamingFileAndProblem) {
  auto entry = [](const std::string& name, const std::string& body) {
    return absl::StrCat("\"", name, "\":{", body, "}");
  };
  const std::string a = R"("dtype":"F32","shape":[2],"data_offsets":[0,8])";
  const std::vector<Corruption> cases = {
      {"empty file", "", "shorter than the 8-byte header length"},
      {"seven bytes", std::string("\x05\0\0\0\0\0\0", 7),
       "file is 7 bytes, shorter than the 8-byte"},
      {"header longer than file", u64_le(1000) + "{}", "header length 1000 exceeds the file size"},
      {"header length huge", u64_le(~uint64_t{0}) + "{}", "exceeds the file size"},
      {"not json", file_bytes("{\"a\":", ""), "header is not valid JSON"},
      {"trailing garbage", file_bytes("{} x", ""), "header is not valid JSON"},
      {"nul padding", file_bytes(std::string("{}\0\0", 4), ""), "header is not valid JSON"},
      {"not an object", file_bytes("[1,2]", ""), "header does not start with '{'"},
      {"empty header", file_bytes("", ""), "header does not start with '{'"},
      {"entry not object", file_bytes(R"({"a":[1]})", ""), "tensor 'a': entry is an array"},
      {"unknown dtype", file_bytes(R"({"a":{"dtype":"F17","shape":[],"data_offsets":[0,0]}})", ""),
       "tensor 'a': unknown dtype F17"},
      {"unsupported dtype",
       file_bytes(R"({"a":{"dtype":"F16","shape":[1],"data_offsets":[0,2]}})",
                  std::string(2, '\0')),
       "tensor 'a': dtype F16 is not supported by kiln"},
      {"dtype not string",
       file_bytes(R"({"a":{"dtype":1,"shape":[1],"data_offsets":[0,4]}})", std::string(4, '\0')),
       "dtype is a number"},
      {"shape not list",
       file_bytes(R"({"a":{"dtype":"F32","shape":2,"data_offsets":[0,8]}})", std::string(8, '\0')),
       "shape is a number, expected a list of non-negative integers"},
      {"negative dim",
       file_bytes(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})",
                  std::string(8, '\0')),
       "shape [-2] is not a list of non-negative integers"},
      {"float dim",
       file_bytes(R"({"a":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}})",
                  std::string(8, '\0')),
       "is not a list of non-negative integers"},
      {"string dim",
       file_bytes(R"({"a":{"dtype":"F32","shape":["2"],"data_offsets":[0,8]}})",
                  std::string(8, '\0')),
       "is not a list of non-negative integers"},
      {"nested shape",
       file_bytes(R"({"a":{"dtype":"F32","shape":[[2]],"data_offsets":[0,8]}})",
                  std::string(8, '\0')),
       "nests objects or arrays too deeply"},
      {"shape overflows",
       file_bytes(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296,0],"data_offsets":[0,0]}})",
                  ""),
       "is too large"},
      {"offsets reversed",
       file_bytes(R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})",
                  std::string(8, '\0')),
       "data_offsets [8,0] is not [begin, end] with 0 <= begin <= end"},
      {"offsets one number",
       file_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8]}})", std::string(8, '\0')),
       "data_offsets [8] is not [begin, end]"},
      {"offsets three numbers",
       file_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8,8]}})",
                  std::string(8, '\0')),
       "is not [begin, end]"},
      {"offsets negative",
       file_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}})", ""),
       "is not [begin, end]"},
      {"missing shape", file_bytes(R"({"a":{"dtype":"F32","data_offsets":[0,8]}})", ""),
       "tensor 'a': missing 'shape'"},
      {"unknown key",
       file_bytes(absl::StrCat("{", entry("a", absl::StrCat(a, R"(,"order":"F")")), "}"),
                  std::string(8, 0)),
       "tensor 'a': unknown key 'order'"},
      {"byte size mismatch",
       file_bytes(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})",
                  std::string(8, '\0')),
       "data_offsets [0,8] hold 8 bytes but shape [3] of F32 needs 12"},
      {"end beyond file", file_bytes(kGoodHeader, std::string(10, '\0')),
       "tensor 'b': data_offsets [8,12] end beyond the end of the file"},
      {"gap",
       file_bytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                  R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
                  kTwelveBytes),
       "bytes [4, 8) of the data buffer belong to no tensor"},
      {"gap at start",
       file_bytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                  std::string(8, '\0')),
       "bytes [0, 4) of the data buffer belong to no tensor"},
      {"overlap",
       file_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                  R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                  kTwelveBytes),
       "tensor 'b' [4, 12) overlaps tensor 'a' [0, 8)"},
      {"same range twice",
       file_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                  R"("b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
                  std::string(8, '\0')),
       "overlaps"},
      {"trailing bytes", file_bytes(kGoodHeader, std::string(16, '\0')),
       "the data buffer holds 16 bytes but the tensors cover only 12"},
      {"duplicate name",
       file_bytes(absl::StrCat("{", entry("a", a), ",", entry("a", a), "}"), std::string(8, '\0')),
       "duplicate tensor name 'a'"},
      {"duplicate key in entry",
       file_bytes(R"({"a":{"dtype":"F32","dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
                  std::string(8, '\0')),
       "duplicate key 'dtype'"},
      {"metadata number", file_bytes(R"({"__metadata__":{"epoch":3}})", ""),
       "unsupported metadata: value of 'epoch' is a number"},
      {"metadata nested", file_bytes(R"({"__metadata__":{"cfg":{"a":"b"}}})", ""),
       "unsupported metadata: value of 'cfg' is an object"},
      {"metadata list", file_bytes(R"({"__metadata__":["a"]})", ""),
       "__metadata__ is an array, expected an object of strings"},
      {"bool byte 2",
       file_bytes(R"({"m":{"dtype":"BOOL","shape":[2],"data_offsets":[0,2]}})",
                  std::string("\x01\x02", 2)),
       "tensor 'm': BOOL element 1 holds byte 2, expected 0 or 1"},
      {"invalid utf-8 name", file_bytes("{\"\xff\":{}}", ""), "header is not valid JSON"},
  };
  for (const Corruption& c : cases) {
    const std::string file = path("corrupt.safetensors");
    write_bytes(file, c.bytes);
    absl::StatusOr<SafetensorsFile> loaded = load_safetensors(file);
    ASSERT_FALSE(loaded.ok()) << c.what;
    const std::string message(loaded.status().message());
    EXPECT_EQ(loaded.status().code(), absl::StatusCode::kInvalidArgument) << c.what;
    EXPECT_NE(message.find(file), std::string::npos) << c.what << ": " << message;
    EXPECT_NE(message.find(c.error), std::string::npos)
        << c.what << ": expected '" << c.error << "' in: " << message;
  }
}

TEST_F(Safetensors, HeaderOverTheLimitIsRefusedBeforeReading) {
  // A sparse file larger than the limit, so the file-size check passes.
  const std::string file = path("huge.safetensors");
  write_bytes(file, u64_le(100'000'001) + "{}");
  fs::resize_file(file, 8 + 100'000'008);
  absl::StatusOr<SafetensorsFile> loaded = load_safetensors(file);
  ASSERT_FALSE(loaded.ok());
  const std::string message(loaded.status().message());
  EXPECT_NE(message.find(file), std::string::npos) << message;
  EXPECT_NE(message.find("header length 100000001 exceeds the limit of 100000000 bytes"),
            std::string::npos)
      << message;
}

TEST_F(Safetensors, MissingFileAndDirectoryAreErrors) {
  absl::StatusOr<SafetensorsFile> missing = load_safetensors(path("nope.safetensors"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find(path("nope.safetensors")), std::string::npos);
  absl::StatusOr<SafetensorsFile> directory = load_safetensors(dir_);
  ASSERT_FALSE(directory.ok());
  EXPECT_NE(directory.status().message().find("not a regular file"), std::string::npos)
      << directory.status();
}

TEST_F(Safetensors, TruncationAtEveryByteIsAnError) {
  const std::string full = path("full.safetensors");
  ASSERT_TRUE(save_safetensors(full,
                               {{"w", from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3})},
                                {"ids", from_vector(std::vector<int64_t>{3, 1}, {2})},
                                {"m", from_vector({1, 0, 1}, {3}, DType::kBool)}},
                               {{"k", "v"}})
                  .ok());
  const std::string bytes = read_bytes(full);
  ASSERT_TRUE(load_safetensors(full).ok());
  const std::string file = path("cut.safetensors");
  for (size_t n = 0; n < bytes.size(); ++n) {
    write_bytes(file, bytes.substr(0, n));
    absl::StatusOr<SafetensorsFile> loaded = load_safetensors(file);
    ASSERT_FALSE(loaded.ok()) << "truncated to " << n << " of " << bytes.size() << " bytes";
    EXPECT_NE(loaded.status().message().find(file), std::string::npos) << loaded.status();
  }
}

TEST_F(Safetensors, CorruptingAnyByteNeverCrashes) {
  // Each byte of a small file set to a few values: loading either fails
  // cleanly or gives tensors consistent with their header (data bytes).
  const std::string full = path("full.safetensors");
  ASSERT_TRUE(save_safetensors(full, {{"w", from_vector(std::vector<float>{1, 2, 3}, {3})},
                                      {"m", from_vector({1, 0}, {2}, DType::kBool)}})
                  .ok());
  const std::string bytes = read_bytes(full);
  const std::string file = path("flip.safetensors");
  int loaded_ok = 0;
  for (size_t i = 0; i < bytes.size(); ++i) {
    for (unsigned char value : {0x00, 0x22, 0x7b, 0xff}) {
      std::string corrupt = bytes;
      corrupt[i] = static_cast<char>(value);
      write_bytes(file, corrupt);
      absl::StatusOr<SafetensorsFile> loaded = load_safetensors(file);
      if (loaded.ok()) {
        ++loaded_ok;
        for (const Tensor& t : loaded->tensors) (void)to_vector(t);
      } else {
        EXPECT_NE(loaded.status().message().find(file), std::string::npos) << loaded.status();
      }
    }
  }
  EXPECT_GT(loaded_ok, 0);  // data-byte changes still load
}

// ---------------------------------------------------------------- atomic save

std::vector<std::pair<std::string, Tensor>> old_content() {
  return {{"old", from_vector(std::vector<float>{1, 2, 3}, {3})}};
}

void expect_old_content(const std::string& file) {
  absl::StatusOr<SafetensorsFile> loaded = load_safetensors(file);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->names, (std::vector<std::string>{"old"}));
  EXPECT_EQ(to_vector(loaded->tensors[0]), (std::vector<double>{1, 2, 3}));
}

TEST_F(Safetensors, SaveReplacesTheFileAndLeavesNoTemporary) {
  const std::string file = path("ckpt.safetensors");
  ASSERT_TRUE(save_safetensors(file, old_content()).ok());
  ASSERT_TRUE(save_safetensors(file, {{"new", from_vector(std::vector<float>{5}, {1})}}).ok());
  absl::StatusOr<SafetensorsFile> loaded = load_safetensors(file);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->names, (std::vector<std::string>{"new"}));
  EXPECT_EQ(entries(), (std::vector<std::string>{"ckpt.safetensors"}));
}

TEST_F(Safetensors, SaveIntoMissingDirectoryFails) {
  const std::string file = path("no_such_dir/ckpt.safetensors");
  absl::Status status = save_safetensors(file, old_content());
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find(file), std::string::npos) << status;
  EXPECT_TRUE(entries().empty());
}

TEST_F(Safetensors, FailedRenameKeepsTheTargetAndRemovesTheTemporary) {
  // The target is a directory: rename fails after the temporary is written.
  const std::string target = path("ckpt.safetensors");
  fs::create_directory(target);
  write_bytes(path("ckpt.safetensors/keep"), "x");
  absl::Status status = save_safetensors(target, old_content());
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("cannot rename"), std::string::npos) << status;
  EXPECT_EQ(entries(), (std::vector<std::string>{"ckpt.safetensors"}));
  EXPECT_EQ(read_bytes(path("ckpt.safetensors/keep")), "x");
}

TEST_F(Safetensors, FailedWriteKeepsTheOldFileAndRemovesTheTemporary) {
  const std::string file = path("ckpt.safetensors");
  ASSERT_TRUE(save_safetensors(file, old_content()).ok());
  const std::string before = read_bytes(file);
  // A file size limit makes the write fail with EFBIG (SIGXFSZ ignored).
  struct rlimit saved;
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &saved), 0);
  struct sigaction ignore = {}, previous = {};
  ignore.sa_handler = SIG_IGN;
  ASSERT_EQ(::sigaction(SIGXFSZ, &ignore, &previous), 0);
  struct rlimit limit = saved;
  limit.rlim_cur = 4096;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &limit), 0);
  absl::Status status = save_safetensors(file, {{"big", zeros({100000})}});
  ::setrlimit(RLIMIT_FSIZE, &saved);
  ::sigaction(SIGXFSZ, &previous, nullptr);
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("cannot write"), std::string::npos) << status;
  EXPECT_EQ(read_bytes(file), before);
  expect_old_content(file);
  EXPECT_EQ(entries(), (std::vector<std::string>{"ckpt.safetensors"}));
}

TEST_F(Safetensors, ReadOnlyDirectoryKeepsTheOldFile) {
  if (::geteuid() == 0) GTEST_SKIP() << "root ignores directory permissions";
  const std::string file = path("ckpt.safetensors");
  ASSERT_TRUE(save_safetensors(file, old_content()).ok());
  ASSERT_EQ(::chmod(dir_.c_str(), 0555), 0);
  absl::Status status = save_safetensors(file, {{"new", from_vector(std::vector<float>{5}, {1})}});
  ::chmod(dir_.c_str(), 0755);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied) << status;
  expect_old_content(file);
  EXPECT_EQ(entries(), (std::vector<std::string>{"ckpt.safetensors"}));
}

TEST_F(Safetensors, UnwritableDirectoryFailsEvenForRoot) {
  // procfs refuses new files whoever asks.
  absl::Status status = save_safetensors("/proc/kiln_safetensors_test.safetensors", old_content());
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("/proc/kiln_safetensors_test.safetensors"), std::string::npos)
      << status;
}

TEST_F(Safetensors, BadArgumentsWriteNothing) {
  const std::string file = path("ckpt.safetensors");
  const Tensor t = zeros({2});
  const struct {
    std::vector<std::pair<std::string, Tensor>> tensors;
    const char* error;
  } cases[] = {
      {{{"a", t}, {"a", t}}, "duplicate tensor name 'a'"},
      {{{"__metadata__", t}}, "'__metadata__' cannot name a tensor"},
      {{{"a", Tensor()}}, "tensor 'a' is undefined"},
      {{{"bad\xff", t}}, "not valid UTF-8"},
  };
  for (const auto& c : cases) {
    absl::Status status = save_safetensors(file, c.tensors);
    ASSERT_FALSE(status.ok()) << c.error;
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(status.message().find(c.error), std::string::npos) << status;
    EXPECT_NE(status.message().find(file), std::string::npos) << status;
  }
  EXPECT_FALSE(save_safetensors(path("dir/"), {{"a", t}}).ok());
  EXPECT_TRUE(entries().empty());
}

}  // namespace
}  // namespace kiln
