// Helpers shared by op implementations: argument checks naming the op, dtype
// dispatch, and recording autograd history.
#pragma once

#include <utility>

#include "kiln/autograd/grad_mode.h"
#include "kiln/autograd/node.h"
#include "kiln/core/error.h"
#include "kiln/tensor/tensor.h"

namespace kiln::ops_internal {

using autograd::NeedsGrad;
using autograd::Node;

inline void check_defined(const char* op, const Tensor& t, const char* what) {
  KILN_CHECK(t.defined(), op, ": ", what, " is undefined");
}

inline void check_floating(const char* op, const Tensor& t) {
  check_defined(op, t, "input");
  KILN_CHECK(is_floating(t.dtype()), op, ": needs a floating tensor, got ", dtype_name(t.dtype()),
             " of shape ", shape_str(t.shape()));
}

// f32 or f64: the dtypes the reference kernels run.
inline void check_f32_or_f64(const char* op, const Tensor& t) {
  check_defined(op, t, "input");
  KILN_CHECK(t.dtype() == DType::kF32 || t.dtype() == DType::kF64, op,
             ": needs an f32 or f64 tensor, got ", dtype_name(t.dtype()), " of shape ",
             shape_str(t.shape()));
}

inline void check_same_dtype(const char* op, const Tensor& a, const Tensor& b) {
  KILN_CHECK(a.dtype() == b.dtype(), op, ": dtypes differ: ", dtype_name(a.dtype()), " ",
             shape_str(a.shape()), " and ", dtype_name(b.dtype()), " ", shape_str(b.shape()),
             " (cast explicitly with to_dtype)");
}

inline void check_rank(const char* op, const Tensor& t, int64_t rank, const char* what) {
  KILN_CHECK(t.dim() == rank, op, ": ", what, " must have rank ", rank, ", got shape ",
             shape_str(t.shape()));
}

// Calls f(T{}) with T = float or double for the tensor's dtype.
template <class F>
decltype(auto) dispatch_f32_f64(const char* op, DType dtype, F&& f) {
  switch (dtype) {
    case DType::kF32:
      return f(float{});
    case DType::kF64:
      return f(double{});
    default:
      KILN_FAIL(op, ": unsupported dtype ", dtype_name(dtype), " (f32 or f64 expected)");
  }
}

// Records `node` as the producer of `output` if any input needs a gradient.
// `make` builds the node and is only called in that case.
template <class N, class Make>
void record(Tensor& output, const TensorList& inputs, Make&& make) {
  if (!autograd::any_requires_grad(inputs)) return;
  std::shared_ptr<N> node = autograd::make_node<N>(inputs);
  make(*node);
  autograd::set_history(output, std::move(node));
}

// As record, for nodes without saved state.
template <class N>
void record(Tensor& output, const TensorList& inputs) {
  record<N>(output, inputs, [](N&) {});
}

}  // namespace kiln::ops_internal
