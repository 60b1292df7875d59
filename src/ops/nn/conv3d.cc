#include <algorithm>

#include "kernels/conv.h"
#include "kiln/ops/autocast.h"
#include "kiln/ops/cast.h"
#include "kiln/ops/nn.h"
#include "src/ops/nn/conv_kernel_op.h"
#include "src/ops/nn/conv_padding.h"
#include "src/ops/op_util.h"

namespace kiln {
namespace {

std::string conv3d_args_str(const Tensor& x, const Tensor& weight) {
  return detail::str_cat("x ", shape_str(x.shape()), ", weight ", shape_str(weight.shape()));
}

std::string triple_str(const std::array<int64_t, 3>& v) {
  return detail::str_cat("(", v[0], ", ", v[1], ", ", v[2], ")");
}

// Checks the arguments and describes the convolution for the kernels.
kernels::ConvDesc conv3d_desc(const Tensor& x, const Tensor& weight, const Tensor& bias,
                              const Conv3dOptions& o) {
  using namespace ops_internal;
  check_defined("conv3d", x, "x");
  check_defined("conv3d", weight, "weight");
  KILN_CHECK(x.dim() == 5 && weight.dim() == 5,
             "conv3d: needs x (N, D, H, W, C_in) and weight (KD, KH, KW, C_in / groups, C_out), "
             "got ",
             conv3d_args_str(x, weight));
  const DType t = x.dtype();
  KILN_CHECK(t == DType::kF32 || t == DType::kBF16 || t == DType::kF64,
             "conv3d: needs f32, bf16 or f64 tensors, got ", dtype_name(t), " x ",
             shape_str(x.shape()));
  check_same_dtype("conv3d", x, weight);
  const int64_t groups = o.groups;
  KILN_CHECK(groups >= 1, "conv3d: groups must be >= 1, got ", groups);
  kernels::ConvDesc d;
  d.spatial_dims = 3;
  d.n = x.size(0);
  d.depth = x.size(1);
  d.h = x.size(2);
  d.w = x.size(3);
  d.c_in = x.size(4);
  d.kd = weight.size(0);
  d.kh = weight.size(1);
  d.kw = weight.size(2);
  d.c_out = weight.size(4);
  d.groups = groups;
  KILN_CHECK(d.c_in % groups == 0 && weight.size(3) * groups == d.c_in && d.c_out % groups == 0,
             "conv3d: ", conv3d_args_str(x, weight), " with groups ", groups,
             ": weight needs C_in / groups = ", d.c_in / groups,
             " input channels and C_out divisible by groups");
  if (bias.defined()) {
    check_same_dtype("conv3d", x, bias);
    KILN_CHECK(bias.dim() == 1 && bias.size(0) == d.c_out, "conv3d: bias ", shape_str(bias.shape()),
               " does not match C_out ", d.c_out, " of weight ", shape_str(weight.shape()));
  }
  const bool positive = *std::min_element(o.stride.begin(), o.stride.end()) >= 1 &&
                        *std::min_element(o.dilation.begin(), o.dilation.end()) >= 1;
  KILN_CHECK(positive, "conv3d: stride ", triple_str(o.stride), " and dilation ",
             triple_str(o.dilation), " must be >= 1");
  KILN_CHECK(d.kd >= 1 && d.kh >= 1 && d.kw >= 1, "conv3d: empty kernel in weight ",
             shape_str(weight.shape()));
  const std::array<int64_t, 6>& p = o.padding;
  KILN_CHECK(o.padding_mode != PaddingMode::kExplicit || *std::min_element(p.begin(), p.end()) >= 0,
             "conv3d: negative padding (", p[0], ", ", p[1], ", ", p[2], ", ", p[3], ", ", p[4],
             ", ", p[5], ")");
  d.stride_d = o.stride[0];
  d.stride_h = o.stride[1];
  d.stride_w = o.stride[2];
  d.dilation_d = o.dilation[0];
  d.dilation_h = o.dilation[1];
  d.dilation_w = o.dilation[2];
  const std::array<int64_t, 6> pad = resolve_padding_3d(
      o.padding_mode, o.padding, {d.depth, d.h, d.w},
      {(d.kd - 1) * d.dilation_d + 1, (d.kh - 1) * d.dilation_h + 1, (d.kw - 1) * d.dilation_w + 1},
      o.stride);
  d.pad_front = pad[0];
  d.pad_back = pad[1];
  d.pad_top = pad[2];
  d.pad_bottom = pad[3];
  d.pad_left = pad[4];
  d.pad_right = pad[5];
  d.out_depth =
      kernels::conv_out_size(d.depth, d.kd, d.stride_d, d.dilation_d, d.pad_front, d.pad_back);
  d.out_h = kernels::conv_out_size(d.h, d.kh, d.stride_h, d.dilation_h, d.pad_top, d.pad_bottom);
  d.out_w = kernels::conv_out_size(d.w, d.kw, d.stride_w, d.dilation_w, d.pad_left, d.pad_right);
  KILN_CHECK(d.out_depth >= 1 && d.out_h >= 1 && d.out_w >= 1,
             "conv3d: ", conv3d_args_str(x, weight),
             " gives an empty output: ", kernels::conv_desc_str(d));
  d.has_bias = bias.defined();
  d.dtype = t;
  return d;
}

}  // namespace

Tensor conv3d(const Tensor& x_in, const Tensor& weight_in, const Tensor& bias_in,
              const Conv3dOptions& options) {
  if (const std::optional<DType> low = autocast_dtype(); low && x_in.dtype() == DType::kF32) {
    // The casts are ops, so the gradients reach x, weight and bias in f32.
    const AutocastScope off(std::nullopt);
    const Tensor bias = bias_in.defined() ? to_dtype(bias_in, *low) : Tensor();
    return to_dtype(conv3d(to_dtype(x_in, *low), to_dtype(weight_in, *low), bias, options),
                    DType::kF32);
  }
  return ops_internal::conv_kernel_op(x_in, weight_in, bias_in,
                                      conv3d_desc(x_in, weight_in, bias_in, options));
}

}  // namespace kiln
