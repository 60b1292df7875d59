#include "src/ops/broadcast.h"

#include "kiln/core/error.h"

namespace kiln::ops_internal {
namespace {

// Stride of `t` along output dim i (0 where t is broadcast).
int64_t broadcast_stride(const Tensor& t, IntList out_shape, size_t i) {
  const size_t lead = out_shape.size() - t.shape().size();
  if (i < lead) return 0;
  const size_t d = i - lead;
  return t.shape()[d] == 1 ? 0 : t.strides()[d];
}

}  // namespace

kernels::BroadcastDesc make_broadcast_desc(const Tensor& a, const Tensor& b, IntList out_shape,
                                           const char* op) {
  kernels::BroadcastDesc desc;
  int rank = 0;
  for (size_t i = 0; i < out_shape.size(); ++i) {
    const int64_t size = out_shape[i];
    if (size == 1) continue;
    const int64_t sa = broadcast_stride(a, out_shape, i);
    const int64_t sb = broadcast_stride(b, out_shape, i);
    // Merge with the previous dim when both operands step through them as one.
    if (rank > 0 && desc.a_strides[rank - 1] == sa * size &&
        desc.b_strides[rank - 1] == sb * size) {
      desc.shape[rank - 1] *= size;
      desc.a_strides[rank - 1] = sa;
      desc.b_strides[rank - 1] = sb;
      continue;
    }
    KILN_CHECK(rank < kernels::BroadcastDesc::kMaxRank, op, ": more than ",
               kernels::BroadcastDesc::kMaxRank, " non-mergeable dims in ", shape_str(out_shape));
    desc.shape[rank] = size;
    desc.a_strides[rank] = sa;
    desc.b_strides[rank] = sb;
    ++rank;
  }
  desc.rank = rank;
  return desc;
}

Tensor broadcast_view(const Tensor& t, IntList shape, const char* op) {
  KILN_CHECK(t.dim() <= static_cast<int64_t>(shape.size()), op, ": cannot broadcast ",
             shape_str(t.shape()), " to ", shape_str(shape));
  Strides strides(shape.size());
  for (size_t i = 0; i < shape.size(); ++i) {
    const size_t lead = shape.size() - t.shape().size();
    if (i < lead) continue;
    const int64_t size = t.shape()[i - lead];
    KILN_CHECK(size == shape[i] || size == 1, op, ": cannot broadcast ", shape_str(t.shape()),
               " to ", shape_str(shape));
    strides[i] = size == 1 ? 0 : t.strides()[i - lead];
  }
  return make_view(t, shape, strides, t.offset());
}

}  // namespace kiln::ops_internal
