#include "src/ops/reduce/reduce_kernel.h"

#include <algorithm>

#include "src/ops/broadcast.h"
#include "src/ops/op_util.h"

namespace kiln::ops_internal {

std::vector<int64_t> normalize_dims(IntList dims, int64_t rank, const char* op) {
  std::vector<int64_t> out;
  if (dims.empty()) {
    for (int64_t d = 0; d < rank; ++d) out.push_back(d);
    return out;
  }
  for (int64_t d : dims) out.push_back(wrap_dim(d, rank, op));
  std::sort(out.begin(), out.end());
  KILN_CHECK(std::adjacent_find(out.begin(), out.end()) == out.end(), op, ": a dim is repeated in ",
             shape_str(dims));
  return out;
}

Shape keepdim_shape(IntList shape, const std::vector<int64_t>& dims) {
  Shape out(shape.begin(), shape.end());
  for (int64_t d : dims) out[d] = 1;
  return out;
}

Shape reduced_shape(IntList shape, const std::vector<int64_t>& dims, bool keepdim) {
  if (keepdim) return keepdim_shape(shape, dims);
  Shape out;
  for (int64_t i = 0; i < static_cast<int64_t>(shape.size()); ++i) {
    if (!std::binary_search(dims.begin(), dims.end(), i)) out.push_back(shape[i]);
  }
  return out;
}

int64_t reduced_count(IntList shape, const std::vector<int64_t>& dims) {
  int64_t n = 1;
  for (int64_t d : dims) n *= shape[d];
  return n;
}

Tensor reduce_forward(const char* name, kernels::ReduceOp op, const Tensor& x,
                      const std::vector<int64_t>& dims, bool keepdim) {
  check_f32_or_f64(name, x);
  const int64_t rank = x.dim();
  Tensor src = x;
  // The kernel reduces the middle of (outer, r, inner): when the reduced
  // dims are not one consecutive run, move them to the end first.
  const bool consecutive =
      dims.empty() || dims.back() - dims.front() + 1 == static_cast<int64_t>(dims.size());
  int64_t first = dims.empty() ? rank : dims.front();
  int64_t last = dims.empty() ? rank : dims.back() + 1;
  if (!consecutive) {
    Shape perm_shape;
    Strides perm_strides;
    for (int64_t i = 0; i < rank; ++i) {
      if (!std::binary_search(dims.begin(), dims.end(), i)) {
        perm_shape.push_back(x.shape()[i]);
        perm_strides.push_back(x.strides()[i]);
      }
    }
    for (int64_t d : dims) {
      perm_shape.push_back(x.shape()[d]);
      perm_strides.push_back(x.strides()[d]);
    }
    src = make_view(x, perm_shape, perm_strides, x.offset());
    first = rank - static_cast<int64_t>(dims.size());
    last = rank;
  }
  src = as_contiguous(src);
  int64_t outer = 1, r = 1, inner = 1;
  for (int64_t i = 0; i < first; ++i) outer *= src.shape()[i];
  for (int64_t i = first; i < last; ++i) r *= src.shape()[i];
  for (int64_t i = last; i < rank; ++i) inner *= src.shape()[i];
  if (r == 0 && (op == kernels::ReduceOp::kMax || op == kernels::ReduceOp::kMin)) {
    KILN_FAIL(name, ": cannot reduce an empty dim of ", shape_str(x.shape()));
  }
  Tensor out = Tensor::empty(reduced_shape(x.shape(), dims, keepdim), x.dtype());
  dispatch_f32_f64(name, x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    kernels::reduce(op, src.data<T>(), out.data<T>(), outer, r, inner);
  });
  return out;
}

Tensor expand_reduced(const Tensor& g, IntList shape, const std::vector<int64_t>& dims) {
  const Shape kept = keepdim_shape(shape, dims);
  Tensor gc = as_contiguous(g);
  Tensor g_keep = make_view(gc, kept, contiguous_strides(kept), gc.offset());
  return broadcast_view(g_keep, shape, "reduce backward");
}

}  // namespace kiln::ops_internal
