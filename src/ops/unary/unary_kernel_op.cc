#include "src/ops/unary/unary_kernel_op.h"

#include "src/ops/op_util.h"

namespace kiln::ops_internal {
namespace {

class UnaryKernelOp final : public Node {
 public:
  std::string_view name() const override { return name_; }

  TensorList backward(const Tensor& dy, const NeedsGrad&) override {
    Tensor g = as_contiguous(dy);
    // x or y, as the kernel's derivative needs; some derivatives need neither.
    const Tensor kept = slot_ >= 0 ? saved(slot_) : g;
    Tensor dx = Tensor::empty(g.shape(), g.dtype());
    dispatch_f32_f64(name_, g.dtype(), [&](auto tag) {
      using T = decltype(tag);
      kernels::unary_backward(op_, kept.data<T>(), kept.data<T>(), g.data<T>(), dx.data<T>(),
                              g.numel(), params_);
    });
    return {dx};
  }

  const char* name_ = "";
  kernels::UnaryOp op_{};
  kernels::UnaryParams params_;
  int slot_ = -1;
};

}  // namespace

Tensor unary_kernel_op(const char* name, const Tensor& x, kernels::UnaryOp op,
                       kernels::UnaryParams params) {
  check_f32_or_f64(name, x);
  Tensor src = as_contiguous(x);
  Tensor y = Tensor::empty(x.shape(), x.dtype());
  dispatch_f32_f64(name, x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    kernels::unary_forward(op, src.data<T>(), y.data<T>(), x.numel(), params);
  });
  record<UnaryKernelOp>(y, {x}, [&](UnaryKernelOp& node) {
    node.name_ = name;
    node.op_ = op;
    node.params_ = params;
    switch (kernels::unary_derivative_needs(op)) {
      case kernels::UnaryNeeds::kOutput:
        node.slot_ = node.save(y);
        break;
      case kernels::UnaryNeeds::kInput:
        node.slot_ = node.save(src);
        break;
      case kernels::UnaryNeeds::kNone:
        break;
    }
  });
  return y;
}

}  // namespace kiln::ops_internal
