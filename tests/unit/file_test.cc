// io::read_file: the exact bytes, or an error naming the file.
// io::write_file_atomic: the whole file or nothing, and the old file kept
// when the write fails.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "kiln/io/file.h"
#include "support/temp_dir.h"

namespace kiln::io {
namespace {

namespace fs = std::filesystem;

std::string read(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class WriteFileAtomicTest : public ::testing::Test {
 protected:
  kiln::testing::TempDir tmp_;
  const fs::path& dir_ = tmp_.path();
};

TEST_F(WriteFileAtomicTest, WritesAndReplacesWholeFiles) {
  const fs::path path = dir_ / "a.bin";
  const std::string binary("x\0y\n\xff", 5);
  ASSERT_TRUE(write_file_atomic(path.string(), binary).ok());
  EXPECT_EQ(read(path), binary);
  ASSERT_TRUE(write_file_atomic(path.string(), "second").ok());
  EXPECT_EQ(read(path), "second");
  ASSERT_TRUE(write_file_atomic(path.string(), "").ok());
  EXPECT_EQ(fs::file_size(path), 0u);
  EXPECT_FALSE(fs::exists(dir_ / "a.bin.tmp"));
}

TEST_F(WriteFileAtomicTest, FailureNamesTheFileAndKeepsTheOldOne) {
  const absl::Status missing_dir =
      write_file_atomic((dir_ / "no" / "such" / "dir.txt").string(), "x");
  EXPECT_FALSE(missing_dir.ok());
  EXPECT_NE(missing_dir.message().find("dir.txt"), std::string::npos) << missing_dir;

  // A directory in the way of the rename: the write fails, the directory
  // (standing in for data on disk) is untouched and no temporary is left.
  const fs::path blocked = dir_ / "blocked";
  fs::create_directories(blocked / "inside");
  const absl::Status s = write_file_atomic(blocked.string(), "x");
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("blocked"), std::string::npos) << s;
  EXPECT_TRUE(fs::is_directory(blocked / "inside"));
  EXPECT_FALSE(fs::exists(dir_ / "blocked.tmp"));
}

TEST_F(WriteFileAtomicTest, ReadFileGivesTheBytesOrAnErrorNamingTheFile) {
  // Larger than the reader's 64 KiB buffer, with every byte value.
  std::string bytes(200001, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i * 7);
  ASSERT_TRUE(write_file_atomic((dir_ / "big.bin").string(), bytes).ok());
  absl::StatusOr<std::string> read_back = read_file((dir_ / "big.bin").string());
  ASSERT_TRUE(read_back.ok()) << read_back.status();
  EXPECT_EQ(*read_back, bytes);

  absl::StatusOr<std::string> missing = read_file((dir_ / "nope.json").string());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("nope.json"), std::string::npos) << missing.status();

  absl::StatusOr<std::string> directory = read_file(dir_.string());
  EXPECT_EQ(directory.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(directory.status().message().find("not a regular file"), std::string::npos);
}

}  // namespace
}  // namespace kiln::io
