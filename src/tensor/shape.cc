#include "kiln/tensor/shape.h"

#include <algorithm>

#include "absl/strings/str_join.h"
#include "kiln/core/error.h"

namespace kiln {

int64_t shape_numel(IntList shape) {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  return n;
}

Strides contiguous_strides(IntList shape) {
  Strides strides(shape.size());
  int64_t running = 1;
  for (int64_t i = static_cast<int64_t>(shape.size()) - 1; i >= 0; --i) {
    strides[i] = running;
    running *= std::max<int64_t>(shape[i], 1);
  }
  return strides;
}

std::string shape_str(IntList shape) {
  if (shape.size() == 1) return absl::StrCat("(", shape[0], ",)");
  return absl::StrCat("(", absl::StrJoin(shape, ", "), ")");
}

int64_t wrap_dim(int64_t dim, int64_t rank, const char* op) {
  const int64_t wrapped = dim < 0 ? dim + rank : dim;
  KILN_CHECK(wrapped >= 0 && wrapped < rank, op, ": dim ", dim, " is out of range for rank ", rank);
  return wrapped;
}

Shape broadcast_shapes(IntList a, IntList b, const char* op) {
  const size_t rank = std::max(a.size(), b.size());
  Shape out(rank);
  for (size_t i = 0; i < rank; ++i) {
    const int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    const int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    KILN_CHECK(da == db || da == 1 || db == 1, op, ": shapes ", shape_str(a), " and ", shape_str(b),
               " cannot be broadcast together");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

}  // namespace kiln
