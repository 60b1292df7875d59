// Whole-file reads, and writes that never leave a half-written file behind:
// data already on disk survives a crash or a full disk mid-write. Errors name
// the file.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace kiln::io {

// OK if `path` names an existing regular file; otherwise NotFound (missing)
// or InvalidArgument (a directory, a device...) naming it.
absl::Status check_regular_file(const std::string& path);

// The bytes of the regular file at `path`: NotFound if it is missing,
// InvalidArgument if it is not a regular file, DataLoss on a read error.
absl::StatusOr<std::string> read_file(const std::string& path);

// Writes `bytes` to `path` atomically: to a temporary file in the same
// directory, flushed to disk, then renamed over `path`, and the directory
// synced. On failure `path` is untouched and the temporary file removed;
// the error names the file.
absl::Status write_file_atomic(const std::string& path, std::string_view bytes);

// fsync of a file, or of a directory (after renames in it).
absl::Status fsync_path(const std::string& path, bool directory);

}  // namespace kiln::io
