#include "src/ops/nn/pool_kernel_op.h"

#include <algorithm>
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

std::string triple_str(const std::array<int64_t, 3>& v) {
  return detail::str_cat("(", v[0], ", ", v[1], ", ", v[2], ")");
}

kernels::PoolDesc pool3d_desc(const char* name, const Tensor& x, const Pool3dOptions& o,
                              kernels::PoolAlg alg) {
  check_defined(name, x, "input");
  KILN_CHECK(x.dim() == 5, name, ": needs x (N, D, H, W, C), got ", shape_str(x.shape()));
  const DType t = x.dtype();
  KILN_CHECK(t == DType::kF32 || t == DType::kBF16 || t == DType::kF64, name,
             ": needs an f32, bf16 or f64 tensor, got ", dtype_name(t), " of shape ",
             shape_str(x.shape()));
  KILN_CHECK(*std::min_element(o.kernel.begin(), o.kernel.end()) >= 1 &&
                 *std::min_element(o.stride.begin(), o.stride.end()) >= 1,
             name, ": kernel ", triple_str(o.kernel), " and stride ", triple_str(o.stride),
             " must be >= 1");
  const std::array<int64_t, 6>& p = o.padding;
  if (o.padding_mode == PaddingMode::kExplicit) {
    bool ok = true;
    for (size_t i = 0; i < 6; ++i) ok = ok && p[i] >= 0 && p[i] < o.kernel[i / 2];
    KILN_CHECK(ok, name, ": padding (", p[0], ", ", p[1], ", ", p[2], ", ", p[3], ", ", p[4], ", ",
               p[5], ") must be >= 0 and smaller than the kernel ", triple_str(o.kernel));
  }
  kernels::PoolDesc d;
  d.spatial_dims = 3;
  d.n = x.size(0);
  d.depth = x.size(1);
  d.h = x.size(2);
  d.w = x.size(3);
  d.c = x.size(4);
  d.kd = o.kernel[0];
  d.kh = o.kernel[1];
  d.kw = o.kernel[2];
  d.stride_d = o.stride[0];
  d.stride_h = o.stride[1];
  d.stride_w = o.stride[2];
  const std::array<int64_t, 6> pad =
      resolve_padding_3d(o.padding_mode, o.padding, {d.depth, d.h, d.w}, o.kernel, o.stride);
  d.pad_front = pad[0];
  d.pad_back = pad[1];
  d.pad_top = pad[2];
  d.pad_bottom = pad[3];
  d.pad_left = pad[4];
  d.pad_right = pad[5];
  const int64_t span_d = d.depth + d.pad_front + d.pad_back - d.kd;
  const int64_t span_h = d.h + d.pad_top + d.pad_bottom - d.kh;
  const int64_t span_w = d.w + d.pad_left + d.pad_right - d.kw;
  KILN_CHECK(d.depth >= 1 && d.h >= 1 && d.w >= 1 && span_d >= 0 && span_h >= 0 && span_w >= 0,
             name, ": x ", shape_str(x.shape()), " is smaller than the window ",
             triple_str(o.kernel), " with padding (", pad[0], ", ", pad[1], ", ", pad[2], ", ",
             pad[3], ", ", pad[4], ", ", pad[5], ")");
  d.out_depth = span_d / d.stride_d + 1;
  d.out_h = span_h / d.stride_h + 1;
  d.out_w = span_w / d.stride_w + 1;
  d.alg = alg;
  d.dtype = t;
  return d;
}

Shape src_shape(const kernels::PoolDesc& d) {
  return d.spatial_dims == 3 ? Shape{d.n, d.depth, d.h, d.w, d.c} : Shape{d.n, d.h, d.w, d.c};
}
Shape dst_shape(const kernels::PoolDesc& d) {
  return d.spatial_dims == 3 ? Shape{d.n, d.out_depth, d.out_h, d.out_w, d.c}
                             : Shape{d.n, d.out_h, d.out_w, d.c};
}

class PoolKernelOp final : public Node {
 public:
  std::string_view name() const override { return name_; }
  TensorList backward(const Tensor& dy, const NeedsGrad&) override {
    const Tensor g = as_contiguous(dy.dtype() == desc_.dtype ? dy : to_dtype(dy, desc_.dtype));
    Tensor dx = Tensor::empty(src_shape(desc_), desc_.dtype);
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

Tensor run_pool(const char* name, const Tensor& x_in, const kernels::PoolDesc& d) {
  const kernels::PoolAlg alg = d.alg;
  const Tensor x = as_contiguous(x_in);
  Tensor y = Tensor::empty(dst_shape(d), d.dtype);
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

}  // namespace

Tensor pool_kernel_op(const char* name, const Tensor& x, const Pool2dOptions& options,
                      kernels::PoolAlg alg) {
  return run_pool(name, x, pool_desc(name, x, options, alg));
}

Tensor pool3d_kernel_op(const char* name, const Tensor& x, const Pool3dOptions& options,
                        kernels::PoolAlg alg) {
  return run_pool(name, x, pool3d_desc(name, x, options, alg));
}

}  // namespace kiln::ops_internal
