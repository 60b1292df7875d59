// Reading whole files for the dataset readers, with errors that name the
// file: NotFound for a missing file, DataLoss for truncated or corrupt
// content, InvalidArgument for content in the wrong format.
#pragma once

#include <string>

#include "absl/status/statusor.h"

namespace kiln::data::detail {

// `bytes` inflated if they start with the gzip magic (1f 8b), else as is.
// Concatenated gzip members are joined; a truncated or corrupt stream and
// trailing bytes after it are errors naming `path`.
absl::StatusOr<std::string> maybe_gunzip(const std::string& path, std::string bytes);

// io::read_file then maybe_gunzip.
absl::StatusOr<std::string> read_maybe_gzipped(const std::string& path);

}  // namespace kiln::data::detail
