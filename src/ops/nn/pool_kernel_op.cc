#include "src/ops/nn/pool_kernel_op.h"

#include <memory>

#include "kiln/core/context.h"
#include "kiln/ops/cast.h"
#include "src/ops/nn/conv_padding.h"
#include "src/ops/op_util.h"

namespace kiln::ops_internal {
namespace {

kernels::PoolDesc pool_desc(const char* name, const Tensor& x, const Pool2dOptions& o,
                            kernels::PoolAlg alg) {
  check_defined(name, x, "input");
  KILN_CHECK(x.dim() == 4, name, ": needs x (N, H, W, C), got ", shape_str(x.shape()));
  const DType t = x.dtype();
  KILN_CHECK(t == DType::kF32 || t == DType::kBF16 || t == DType::kF64, name,
             ": needs an f32, bf16 or f64 tensor, got ", dtype_name(t), " of shape ",
             shape_str(x.shape()));
  KILN_CHECK(o.kernel[0] >= 1 && o.kernel[1] >= 1 && o.stride[0] >= 1 && o.stride[1] >= 1, name,
             ": kernel (", o.kernel[0], ", ", o.kernel[1], ") and stride (", o.stride[0], ", ",
             o.stride[1], ") must be >= 1");
  if (o.padding_mode == PaddingMode::kExplicit) {
    const std::array<int64_t, 4>& p = o.padding;
    KILN_CHECK(p[0] >= 0 && p[1] >= 0 && p[2] >= 0 && p[3] >= 0 && p[0] < o.kernel[0] &&
                   p[1] < o.kernel[0] && p[2] < o.kernel[1] && p[3] < o.kernel[1],
               name, ": padding (", p[0], ", ", p[1], ", ", p[2], ", ", p[3],
               ") must be >= 0 and smaller than the kernel (", o.kernel[0], ", ", o.kernel[1], ")");
  }
  kernels::PoolDesc d;
  d.n = x.size(0);
  d.h = x.size(1);
  d.w = x.size(2);
  d.c = x.size(3);
  d.kh = o.kernel[0];
  d.kw = o.kernel[1];
  d.stride_h = o.stride[0];
  d.stride_w = o.stride[1];
  const std::array<int64_t, 4> pad =
      resolve_padding(o.padding_mode, o.padding, d.h, d.w, d.kh, d.kw, o.stride);
  d.pad_top = pad[0];
  d.pad_bottom = pad[1];
  d.pad_left = pad[2];
  d.pad_right = pad[3];
  const int64_t span_h = d.h + d.pad_top + d.pad_bottom - d.kh;
  const int64_t span_w = d.w + d.pad_left + d.pad_right - d.kw;
  KILN_CHECK(d.h >= 1 && d.w >= 1 && span_h >= 0 && span_w >= 0, name, ": x ", shape_str(x.shape()),
             " is smaller than the window (", d.kh, ", ", d.kw, ") with padding (", pad[0], ", ",
             pad[1], ", ", pad[2], ", ", pad[3], ")");
  d.out_h = span_h / d.stride_h + 1;
  d.out_w = span_w / d.stride_w + 1;
  d.alg = alg;
  d.dtype = t;
  return d;
}

class PoolKernelOp final : public Node {
 public:
  std::string_view name() const override { return name_; }
  TensorList backward(const Tensor& dy, const NeedsGrad&) override {
    const Tensor g = as_contiguous(dy.dtype() == desc_.dtype ? dy : to_dtype(dy, desc_.dtype));
    Tensor dx = Tensor::empty({desc_.n, desc_.h, desc_.w, desc_.c}, desc_.dtype);
    const void* workspace = workspace_ >= 0 ? saved(workspace_).raw_data() : nullptr;
    if (desc_.dtype == DType::kF64) {
      kernels::ref::pool_backward(desc_, g.data<double>(), static_cast<const int32_t*>(workspace),
                                  dx.data<double>());
    } else {
      kernels::onednn::pool_backward(*plan_, g.raw_data(), workspace, dx.raw_data());
    }
    return {dx};
  }

  const char* name_ = "";
  kernels::PoolDesc desc_;
  std::shared_ptr<kernels::onednn::PoolPlan> plan_;
  int workspace_ = -1;
};

}  // namespace

Tensor pool_kernel_op(const char* name, const Tensor& x_in, const Pool2dOptions& options,
                      kernels::PoolAlg alg) {
  const kernels::PoolDesc d = pool_desc(name, x_in, options, alg);
  const Tensor x = as_contiguous(x_in);
  Tensor y = Tensor::empty({d.n, d.out_h, d.out_w, d.c}, d.dtype);
  // Max pooling's record of where each maximum was: the reference kernel's
  // argmax (N, OH, OW, C), or oneDNN's opaque workspace (bytes held as i32).
  Tensor workspace;
  std::shared_ptr<kernels::onednn::PoolPlan> plan;
  if (d.dtype == DType::kF64) {
    if (alg == kernels::PoolAlg::kMax) workspace = Tensor::empty(y.shape(), DType::kI32);
    kernels::ref::pool_forward(d, x.data<double>(), y.data<double>(),
                               workspace.defined() ? workspace.data<int32_t>() : nullptr);
  } else {
    plan = kernels::onednn::pool_plan(Context::current().onednn(), d);
    const int64_t bytes = kernels::onednn::pool_workspace_bytes(*plan);
    if (bytes > 0) workspace = Tensor::empty({(bytes + 3) / 4}, DType::kI32);
    kernels::onednn::pool_forward(*plan, x.raw_data(), y.raw_data(),
                                  workspace.defined() ? workspace.raw_data() : nullptr);
  }
  record<PoolKernelOp>(y, {x_in}, [&](PoolKernelOp& node) {
    node.name_ = name;
    node.desc_ = d;
    node.plan_ = plan;
    if (workspace.defined()) node.workspace_ = node.save(workspace);
  });
  return y;
}

}  // namespace kiln::ops_internal
