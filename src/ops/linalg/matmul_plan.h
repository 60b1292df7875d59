// How matmul hands two tensors of rank >= 2 to the kernels: the batch dims
// broadcast and coalesced, transposed views described by their strides (no
// copy), and a batch of matrices against one shared matrix folded into a
// single larger product.
#pragma once

#include "kernels/matmul.h"
#include "kiln/tensor/tensor.h"

namespace kiln::ops_internal {

struct MatmulPlan {
  kernels::MatmulDesc desc;
  // The operands as the kernel reads them: the inputs themselves, or
  // contiguous copies when neither matrix stride is 1 (or rows overlap).
  Tensor a, b;
  bool a_copied = false;
  bool b_copied = false;
  Shape out_shape;  // (batch..., M, N)
};

// a (..., M, K), b (..., K, N), both rank >= 2, same dtype (checked by the
// caller, which names the user's shapes).
MatmulPlan plan_matmul(const Tensor& a, const Tensor& b);
// Runs the plan into a new contiguous tensor of plan.out_shape (a's dtype).
Tensor run_matmul(const MatmulPlan& plan);
// plan_matmul + run_matmul, recording no autograd history.
Tensor matmul_values(const Tensor& a, const Tensor& b);
// The size-1-free merge of `sizes` (outer first) into one dim, if their
// strides allow it: returns false otherwise. An all-size-1 list merges into
// a dim of size 1 with stride `fallback`.
bool merge_dims(IntList sizes, IntList strides, int64_t fallback, int64_t* size, int64_t* stride);

}  // namespace kiln::ops_internal
