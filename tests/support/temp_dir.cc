#include "support/temp_dir.h"

#include <stdlib.h>

#include <system_error>

#include "kiln/core/error.h"

namespace kiln::testing {

namespace fs = std::filesystem;

TempDir::TempDir() {
  std::string pattern = (fs::temp_directory_path() / "kiln_test_XXXXXX").string();
  KILN_CHECK(::mkdtemp(pattern.data()) != nullptr, "TempDir: cannot create ", pattern);
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

}  // namespace kiln::testing
