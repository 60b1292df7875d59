#include "kernels/conv.h"
#include "kiln/ops/autocast.h"
#include "kiln/ops/cast.h"
#include "kiln/ops/nn.h"
#include "src/ops/nn/conv_kernel_op.h"
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
  return ops_internal::conv_kernel_op(x_in, weight_in, bias_in,
                                      conv_desc(x_in, weight_in, bias_in, options));
}

}  // namespace kiln
