#include "src/optim/optim_util.h"

#include <cmath>

#include "kiln/core/error.h"

namespace kiln::optim::internal {

void check_nonnegative(std::string_view who, const char* what, double value) {
  KILN_CHECK(std::isfinite(value) && value >= 0, who, ": ", what, " is ", value,
             "; it must be finite and >= 0");
}

void check_unit_interval(std::string_view who, const char* what, double value) {
  KILN_CHECK(value >= 0 && value < 1, who, ": ", what, " is ", value, "; it must be in [0, 1)");
}

void check_closed_unit_interval(std::string_view who, const char* what, double value) {
  KILN_CHECK(value >= 0 && value <= 1, who, ": ", what, " is ", value, "; it must be in [0, 1]");
}

void check_kernel_tensor(std::string_view who, const std::string& name, const Tensor& t) {
  KILN_CHECK(t.dtype() == DType::kF32 || t.dtype() == DType::kF64, who, ": '", name, "' has dtype ",
             dtype_name(t.dtype()), "; only f32 and f64 tensors are supported");
  KILN_CHECK(t.is_contiguous(), who, ": '", name, "' of shape ", shape_str(t.shape()),
             " is not contiguous");
}

Tensor kernel_grad(std::string_view who, const ParamRef& p) {
  Tensor grad = p.tensor.grad();
  if (!grad.defined()) return grad;
  check_kernel_tensor(who, p.name, p.tensor);
  KILN_CHECK(grad.dtype() == p.tensor.dtype() && grad.shape() == p.tensor.shape(), who,
             ": the gradient of '", p.name, "' is ", dtype_name(grad.dtype()), " ",
             shape_str(grad.shape()), " but the parameter is ", dtype_name(p.tensor.dtype()), " ",
             shape_str(p.tensor.shape()));
  if (!grad.is_contiguous()) {
    grad = as_contiguous(grad);
    Tensor(p.tensor).set_grad(grad);
  }
  return grad;
}

UnitLayout unit_layout(const Shape& shape) {
  const int64_t numel = shape_numel(shape);
  int64_t non_unit_dims = 0;
  for (int64_t d : shape) non_unit_dims += d != 1 ? 1 : 0;
  const int64_t rank = static_cast<int64_t>(shape.size());
  // As nfnets unitwise_norm: len(squeeze(x).shape) <= 1 is one unit.
  if (non_unit_dims <= 1 || numel == 0) return {numel, 1, Shape{}};
  UnitLayout layout;
  layout.norm_shape = shape;
  // IO, or I(H, D): axis 0. HWIO: axes 0, 1, 2, and beyond the official
  // code's ranks every axis but the last.
  const int64_t reduced = (rank == 2 || rank == 3) ? 1 : rank - 1;
  layout.rows = 1;
  for (int64_t d = 0; d < reduced; ++d) {
    layout.rows *= shape[d];
    layout.norm_shape[d] = 1;
  }
  layout.cols = numel / layout.rows;
  return layout;
}

}  // namespace kiln::optim::internal
