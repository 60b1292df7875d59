#include <memory>

#include "kernels/conv.h"
#include "kiln/core/context.h"
#include "kiln/ops/autocast.h"
#include "kiln/ops/cast.h"
#include "kiln/ops/flops.h"
#include "kiln/ops/nn.h"
#include "kiln/ops/reduce.h"
#include "src/ops/nn/conv_padding.h"
#include "src/ops/op_util.h"

namespace kiln {
namespace {

std::string conv_args_str(const Tensor& x, const Tensor& weight) {
  return detail::str_cat("x ", shape_str(x.shape()), ", weight ", shape_str(weight.shape()));
}

// Checks the arguments and describes the convolution for the kernels.
kernels::ConvDesc conv_desc(const Tensor& x, const Tensor& weight, const Tensor& bias,
                            const Conv2dOptions& o) {
  using namespace ops_internal;
  check_defined("conv2d", x, "x");
  check_defined("conv2d", weight, "weight");
  KILN_CHECK(x.dim() == 4 && weight.dim() == 4,
             "conv2d: needs x (N, H, W, C_in) and weight (KH, KW, C_in / groups, C_out), got ",
             conv_args_str(x, weight));
  const DType t = x.dtype();
  KILN_CHECK(t == DType::kF32 || t == DType::kBF16 || t == DType::kF64,
             "conv2d: needs f32, bf16 or f64 tensors, got ", dtype_name(t), " x ",
             shape_str(x.shape()));
  check_same_dtype("conv2d", x, weight);
  const int64_t groups = o.groups;
  KILN_CHECK(groups >= 1, "conv2d: groups must be >= 1, got ", groups);
  kernels::ConvDesc d;
  d.n = x.size(0);
  d.h = x.size(1);
  d.w = x.size(2);
  d.c_in = x.size(3);
  d.kh = weight.size(0);
  d.kw = weight.size(1);
  d.c_out = weight.size(3);
  d.groups = groups;
  KILN_CHECK(d.c_in % groups == 0 && weight.size(2) * groups == d.c_in && d.c_out % groups == 0,
             "conv2d: ", conv_args_str(x, weight), " with groups ", groups,
             ": weight needs C_in / groups = ", d.c_in / groups,
             " input channels and C_out divisible by groups");
  if (bias.defined()) {
    check_same_dtype("conv2d", x, bias);
    KILN_CHECK(bias.dim() == 1 && bias.size(0) == d.c_out, "conv2d: bias ", shape_str(bias.shape()),
               " does not match C_out ", d.c_out, " of weight ", shape_str(weight.shape()));
  }
  KILN_CHECK(o.stride[0] >= 1 && o.stride[1] >= 1 && o.dilation[0] >= 1 && o.dilation[1] >= 1,
             "conv2d: stride (", o.stride[0], ", ", o.stride[1], ") and dilation (", o.dilation[0],
             ", ", o.dilation[1], ") must be >= 1");
  KILN_CHECK(d.kh >= 1 && d.kw >= 1, "conv2d: empty kernel in weight ", shape_str(weight.shape()));
  for (int64_t p : o.padding) {
    KILN_CHECK(o.padding_mode != PaddingMode::kExplicit || p >= 0, "conv2d: negative padding (",
               o.padding[0], ", ", o.padding[1], ", ", o.padding[2], ", ", o.padding[3], ")");
  }
  d.stride_h = o.stride[0];
  d.stride_w = o.stride[1];
  d.dilation_h = o.dilation[0];
  d.dilation_w = o.dilation[1];
  const std::array<int64_t, 4> pad =
      resolve_padding(o.padding_mode, o.padding, d.h, d.w, (d.kh - 1) * d.dilation_h + 1,
                      (d.kw - 1) * d.dilation_w + 1, o.stride);
  d.pad_top = pad[0];
  d.pad_bottom = pad[1];
  d.pad_left = pad[2];
  d.pad_right = pad[3];
  d.out_h = kernels::conv_out_size(d.h, d.kh, d.stride_h, d.dilation_h, d.pad_top, d.pad_bottom);
  d.out_w = kernels::conv_out_size(d.w, d.kw, d.stride_w, d.dilation_w, d.pad_left, d.pad_right);
  KILN_CHECK(d.out_h >= 1 && d.out_w >= 1, "conv2d: ", conv_args_str(x, weight),
             " gives an empty output: ", kernels::conv_desc_str(d));
  d.has_bias = bias.defined();
  d.dtype = t;
  return d;
}

// Multiply-adds of one pass (forward, backward data or backward weights) x 2.
int64_t conv_flops(const kernels::ConvDesc& d) {
  return 2 * d.n * d.out_h * d.out_w * d.c_out * d.kh * d.kw * (d.c_in / d.groups);
}

// Backward calls the backward kernels; f32/bf16 reuse the forward's plan
// (the backend payload: oneDNN's forward primitive descriptor is the hint of
// the backward primitives, which the plan creates once and keeps).
class Conv2dOp final : public autograd::Node {
 public:
  std::string_view name() const override { return "conv2d"; }
  TensorList backward(const Tensor& dy, const autograd::NeedsGrad& needs) override {
    const Tensor g = as_contiguous(dy.dtype() == desc_.dtype ? dy : to_dtype(dy, desc_.dtype));
    Tensor dx, dw, db;
    if (needs[0]) {
      FlopCounter::add(conv_flops(desc_));
      const Tensor& w = saved(w_);
      dx = Tensor::empty({desc_.n, desc_.h, desc_.w, desc_.c_in}, desc_.dtype);
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
      dw = Tensor::empty({desc_.kh, desc_.kw, desc_.c_in / desc_.groups, desc_.c_out}, desc_.dtype);
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
      db = sum(g, {0, 1, 2});
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

Tensor conv2d(const Tensor& x_in, const Tensor& weight_in, const Tensor& bias_in,
              const Conv2dOptions& options) {
  if (const std::optional<DType> low = autocast_dtype(); low && x_in.dtype() == DType::kF32) {
    // The casts are ops, so the gradients reach x, weight and bias in f32.
    const AutocastScope off(std::nullopt);
    const Tensor bias = bias_in.defined() ? to_dtype(bias_in, *low) : Tensor();
    return to_dtype(conv2d(to_dtype(x_in, *low), to_dtype(weight_in, *low), bias, options),
                    DType::kF32);
  }
  const kernels::ConvDesc d = conv_desc(x_in, weight_in, bias_in, options);
  const Tensor x = as_contiguous(x_in), weight = as_contiguous(weight_in);
  const Tensor bias = bias_in.defined() ? as_contiguous(bias_in) : Tensor();
  Tensor y = Tensor::empty({d.n, d.out_h, d.out_w, d.c_out}, d.dtype);
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
  ops_internal::record<Conv2dOp>(y, inputs, [&](Conv2dOp& node) {
    node.desc_ = d;
    node.plan_ = plan;
    if (weight_in.requires_grad()) node.x_ = node.save(x);
    if (x_in.requires_grad()) node.w_ = node.save(weight);
  });
  return y;
}

}  // namespace kiln
