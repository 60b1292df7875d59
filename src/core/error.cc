#include "kiln/core/error.h"

namespace kiln::detail {

void throw_error(const char* /*file*/, int /*line*/, const std::string& message) {
  throw Error(message);
}

}  // namespace kiln::detail
