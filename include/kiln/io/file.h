// Whole-file writes that never leave a half-written file behind: data
// already on disk survives a crash or a full disk mid-write.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace kiln::io {

// Writes `bytes` to `path` atomically: to a temporary file in the same
// directory, flushed to disk, then renamed over `path`, and the directory
// synced. On failure `path` is untouched and the temporary file removed;
// the error names the file.
absl::Status write_file_atomic(const std::string& path, std::string_view bytes);

// fsync of a file, or of a directory (after renames in it).
absl::Status fsync_path(const std::string& path, bool directory);

}  // namespace kiln::io
