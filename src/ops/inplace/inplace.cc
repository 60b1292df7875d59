// In-place updates. They bypass autograd, so they refuse tensors that are
// part of a graph while grad mode is on.
#include "kiln/ops/inplace.h"

#include "kiln/ops/binary.h"
#include "src/ops/broadcast.h"
#include "src/ops/op_util.h"

namespace kiln {
namespace {

void check_writable(const char* op, const Tensor& dst) {
  ops_internal::check_defined(op, dst, "destination");
  KILN_CHECK(!(grad_mode_enabled() && dst.requires_grad()), op,
             ": in-place update of a tensor that requires grad; use a NoGradGuard");
}

}  // namespace

void add_(const Tensor& dst, const Tensor& src, double alpha) {
  check_writable("add_", dst);
  ops_internal::check_defined("add_", src, "source");
  ops_internal::check_same_dtype("add_", dst, src);
  NoGradGuard no_grad;
  Tensor scaled = alpha == 1.0 ? src : mul_scalar(src, alpha);
  Tensor sum = add(dst, ops_internal::broadcast_view(scaled, dst.shape(), "add_"));
  copy_into(dst, sum);
}

void mul_(const Tensor& dst, double value) {
  check_writable("mul_", dst);
  NoGradGuard no_grad;
  copy_into(dst, mul_scalar(dst, value));
}

void copy_(const Tensor& dst, const Tensor& src) {
  check_writable("copy_", dst);
  ops_internal::check_defined("copy_", src, "source");
  copy_into(dst, ops_internal::broadcast_view(src, dst.shape(), "copy_"));
}

void fill_(const Tensor& dst, double value) {
  check_writable("fill_", dst);
  copy_into(dst,
            ops_internal::broadcast_view(scalar_tensor(value, dst.dtype()), dst.shape(), "fill_"));
}

}  // namespace kiln
