// Shape ops. reshape, permute, transpose, slice, narrow, expand, squeeze,
// unsqueeze return views sharing storage where the strides allow (reshape
// copies otherwise); the others allocate.
#pragma once

#include <utility>
#include <vector>

#include "kiln/tensor/tensor.h"

namespace kiln {

// One entry of `shape` may be -1 (inferred).
Tensor reshape(const Tensor& x, IntList shape);
Tensor permute(const Tensor& x, IntList dims);
Tensor transpose(const Tensor& x, int64_t dim0, int64_t dim1);
// Elements start, start + step, ... < end along dim (end clamped to the size).
Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end, int64_t step = 1);
Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length);
Tensor concat(const TensorList& xs, int64_t dim);
Tensor stack(const TensorList& xs, int64_t dim);
// Broadcasts x to `shape` (a view with zero strides). -1 keeps a size.
Tensor expand(const Tensor& x, IntList shape);
// Removes dim `dim`, which must have size 1 (any other size throws, unlike torch).
Tensor squeeze(const Tensor& x, int64_t dim);
Tensor unsqueeze(const Tensor& x, int64_t dim);
// Merges dims start..end (inclusive) into one.
Tensor flatten(const Tensor& x, int64_t start_dim = 0, int64_t end_dim = -1);
// A contiguous tensor with x's values (x itself if already contiguous).
Tensor contiguous(const Tensor& x);
// A contiguous copy that never shares storage with x.
Tensor clone(const Tensor& x);
// Pads the last pads.size() dims: pads[i] = (before, after) elements for dim
// rank - pads.size() + i, filled with `value`.
Tensor pad(const Tensor& x, const std::vector<std::pair<int64_t, int64_t>>& pads,
           double value = 0.0);
// Rows of x along dim picked by a 1-D integer index.
// Ids may repeat (their gradients add); out-of-range ids throw.
Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index);
// out[i][j][k] = x[i][index[i][j][k]][k] for dim 1 (torch.gather semantics).
Tensor gather(const Tensor& x, int64_t dim, const Tensor& index);
// (...) integer -> (..., num_classes) of dtype.
Tensor one_hot(const Tensor& index, int64_t num_classes, DType dtype = DType::kF32);
// (N, H, W, C) -> (N, H/b, W/b, b*b*C), and back. Channel order within a
// block: (row offset, column offset, channel), as tf.nn.space_to_depth.
Tensor space_to_depth(const Tensor& x, int64_t block);
Tensor depth_to_space(const Tensor& x, int64_t block);

}  // namespace kiln
