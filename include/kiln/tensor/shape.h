// Shapes and strides: small inline vectors of int64 (no heap for rank <= 6).
#pragma once

#include <cstdint>
#include <string>

#include "absl/container/inlined_vector.h"
#include "absl/types/span.h"

namespace kiln {

using Shape = absl::InlinedVector<int64_t, 6>;
using Strides = absl::InlinedVector<int64_t, 6>;
using IntList = absl::Span<const int64_t>;

int64_t shape_numel(IntList shape);
// Row-major (C order) strides for a shape.
Strides contiguous_strides(IntList shape);
// "(2, 3, 4)"
std::string shape_str(IntList shape);
// Wraps a possibly negative dim into [0, rank); throws naming `op` if out of range.
int64_t wrap_dim(int64_t dim, int64_t rank, const char* op);
// Broadcasts two shapes NumPy-style; throws naming `op` and both shapes.
Shape broadcast_shapes(IntList a, IntList b, const char* op);

}  // namespace kiln
