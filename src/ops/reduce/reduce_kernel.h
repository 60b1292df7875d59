// Shared machinery of the reductions: dim normalisation and the kernel call.
#pragma once

#include <vector>

#include "kernels/reduce.h"
#include "kiln/tensor/tensor.h"

namespace kiln::ops_internal {

// Sorted, unique, non-negative dims; empty input means all dims.
std::vector<int64_t> normalize_dims(IntList dims, int64_t rank, const char* op);
// x's shape with the reduced dims set to 1.
Shape keepdim_shape(IntList shape, const std::vector<int64_t>& dims);
// x's shape with the reduced dims removed (or set to 1 with keepdim).
Shape reduced_shape(IntList shape, const std::vector<int64_t>& dims, bool keepdim);
// Number of elements each output reduces.
int64_t reduced_count(IntList shape, const std::vector<int64_t>& dims);
// Reduces x over `dims` (already normalised) with the kernel op.
Tensor reduce_forward(const char* name, kernels::ReduceOp op, const Tensor& x,
                      const std::vector<int64_t>& dims, bool keepdim);
// g (reduced shape, with or without keepdim) broadcast back to `shape`, a view.
Tensor expand_reduced(const Tensor& g, IntList shape, const std::vector<int64_t>& dims);

// max and min (defined in max.cc): the reduction and its tie-sharing backward.
Tensor extremum(const char* name, kernels::ReduceOp op, const Tensor& x, IntList dims,
                bool keepdim);

}  // namespace kiln::ops_internal
