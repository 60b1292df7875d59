// Helpers of the indexing ops (index_select, gather, one_hot): reading
// integer indices and moving elements of any dtype by their byte width.
#pragma once

#include <cstdint>
#include <vector>

#include "kiln/core/error.h"
#include "kiln/tensor/tensor.h"

namespace kiln::ops_internal {

// The values of an i32 or i64 tensor in row-major order.
inline std::vector<int64_t> index_values(const char* op, const Tensor& index) {
  KILN_CHECK(index.defined(), op, ": index is undefined");
  KILN_CHECK(index.dtype() == DType::kI64 || index.dtype() == DType::kI32, op,
             ": index must be i32 or i64, got ", dtype_name(index.dtype()), " of shape ",
             shape_str(index.shape()));
  const Tensor c = as_contiguous(index);
  std::vector<int64_t> out(static_cast<size_t>(c.numel()));
  if (c.dtype() == DType::kI64) {
    const int64_t* p = c.data<int64_t>();
    out.assign(p, p + c.numel());
  } else {
    const int32_t* p = c.data<int32_t>();
    out.assign(p, p + c.numel());
  }
  return out;
}

// Calls f(U{}) with an unsigned integer type as wide as one element of
// `dtype`: pure data movement then works for every dtype.
template <class F>
decltype(auto) dispatch_by_width(DType dtype, F&& f) {
  switch (dtype_size(dtype)) {
    case 1:
      return f(uint8_t{});
    case 2:
      return f(uint16_t{});
    case 4:
      return f(uint32_t{});
    case 8:
      return f(uint64_t{});
    default:
      KILN_FAIL("unsupported element size ", dtype_size(dtype), " of ", dtype_name(dtype));
  }
}

}  // namespace kiln::ops_internal
