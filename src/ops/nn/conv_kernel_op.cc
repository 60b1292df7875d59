#include "src/ops/nn/conv_kernel_op.h"

#include <memory>

#include "kiln/core/context.h"
#include "kiln/ops/cast.h"
#include "kiln/ops/flops.h"
#include "kiln/ops/reduce.h"
#include "src/ops/op_util.h"

namespace kiln::ops_internal {
namespace {

// Multiply-adds of one pass (forward, backward data or backward weights) x 2.
int64_t conv_flops(const kernels::ConvDesc& d) {
  return 2 * kernels::conv_dst_numel(d) * d.kd * d.kh * d.kw * (d.c_in / d.groups);
}

bool is_3d(const kernels::ConvDesc& d) { return d.spatial_dims == 3; }

Shape src_shape(const kernels::ConvDesc& d) {
  return is_3d(d) ? Shape{d.n, d.depth, d.h, d.w, d.c_in} : Shape{d.n, d.h, d.w, d.c_in};
}
Shape weights_shape(const kernels::ConvDesc& d) {
  const int64_t icg = d.c_in / d.groups;
  return is_3d(d) ? Shape{d.kd, d.kh, d.kw, icg, d.c_out} : Shape{d.kh, d.kw, icg, d.c_out};
}
Shape dst_shape(const kernels::ConvDesc& d) {
  return is_3d(d) ? Shape{d.n, d.out_depth, d.out_h, d.out_w, d.c_out}
                  : Shape{d.n, d.out_h, d.out_w, d.c_out};
}

// Backward calls the backward kernels; f32/bf16 reuse the forward's plan
// (the backend payload: oneDNN's forward primitive descriptor is the hint of
// the backward primitives, which the plan creates once and keeps).
class ConvKernelOp final : public Node {
 public:
  std::string_view name() const override { return kernels::conv_name(desc_); }
  TensorList backward(const Tensor& dy, const NeedsGrad& needs) override {
    const Tensor g = as_contiguous(dy.dtype() == desc_.dtype ? dy : to_dtype(dy, desc_.dtype));
    Tensor dx, dw, db;
    if (needs[0]) {
      FlopCounter::add(conv_flops(desc_));
      const Tensor& w = saved(w_);
      dx = Tensor::empty(src_shape(desc_), desc_.dtype);
      if (desc_.dtype == DType::kF64) {
        kernels::ref::conv_backward_data(desc_, g.data<double>(), w.data<double>(),
                                         dx.data<double>());
      } else {
        kernels::onednn::conv_backward_data(*plan_, g.raw_data(), w.raw_data(), dx.raw_data());
      }
    }
    const bool want_bias = needs.size() > 2 && needs[2];
    if (needs[1]) {
      FlopCounter::add(conv_flops(desc_));
      const Tensor& x = saved(x_);
      dw = Tensor::empty(weights_shape(desc_), desc_.dtype);
      if (want_bias) db = Tensor::empty({desc_.c_out}, desc_.dtype);
      if (desc_.dtype == DType::kF64) {
        kernels::ref::conv_backward_weights(desc_, x.data<double>(), g.data<double>(),
                                            dw.data<double>(),
                                            want_bias ? db.data<double>() : nullptr);
      } else {
        kernels::onednn::conv_backward_weights(*plan_, x.raw_data(), g.raw_data(), dw.raw_data(),
                                               want_bias ? db.raw_data() : nullptr);
      }
    } else if (want_bias) {
      // Sum over every dim but the channels.
      std::vector<int64_t> dims(static_cast<size_t>(g.dim() - 1));
      for (size_t i = 0; i < dims.size(); ++i) dims[i] = static_cast<int64_t>(i);
      db = sum(g, dims);
    }
    TensorList grads{dx, dw};
    if (needs.size() > 2) grads.push_back(db);
    return grads;
  }

  kernels::ConvDesc desc_;
  std::shared_ptr<kernels::onednn::ConvPlan> plan_;
  int x_ = -1;
  int w_ = -1;
};

}  // namespace

Tensor conv_kernel_op(const Tensor& x_in, const Tensor& weight_in, const Tensor& bias_in,
                      const kernels::ConvDesc& d) {
  const Tensor x = as_contiguous(x_in), weight = as_contiguous(weight_in);
  const Tensor bias = bias_in.defined() ? as_contiguous(bias_in) : Tensor();
  Tensor y = Tensor::empty(dst_shape(d), d.dtype);
  std::shared_ptr<kernels::onednn::ConvPlan> plan;
  FlopCounter::add(conv_flops(d));
  if (d.dtype == DType::kF64) {
    kernels::ref::conv_forward(d, x.data<double>(), weight.data<double>(),
                               bias.defined() ? bias.data<double>() : nullptr, y.data<double>());
  } else {
    plan = kernels::onednn::conv_plan(Context::current().onednn(), d);
    kernels::onednn::conv_forward(*plan, x.raw_data(), weight.raw_data(),
                                  bias.defined() ? bias.raw_data() : nullptr, y.raw_data());
  }
  TensorList inputs{x_in, weight_in};
  if (bias_in.defined()) inputs.push_back(bias_in);
  record<ConvKernelOp>(y, inputs, [&](ConvKernelOp& node) {
    node.desc_ = d;
    node.plan_ = plan;
    if (weight_in.requires_grad()) node.x_ = node.save(x);
    if (x_in.requires_grad()) node.w_ = node.save(weight);
  });
  return y;
}

}  // namespace kiln::ops_internal
