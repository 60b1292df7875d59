// 2-D and 3-D convolution, channels-last: src (N, H, W, C_in), weights HWIO
// (KH, KW, C_in / groups, C_out) as in JAX, bias (C_out), dst
// (N, OH, OW, C_out); in 3-D src (N, D, H, W, C_in), weights DHWIO
// (KD, KH, KW, C_in / groups, C_out), dst (N, OD, OH, OW, C_out). All
// contiguous. Output channel o belongs to group o / (C_out / groups) and
// reads input channels of that group. A 2-D convolution is the 3-D one with
// depth, kernel depth and output depth 1; spatial_dims picks the oneDNN
// primitive's rank (and the op name in messages).
//
// ref:: is the oracle and the f64 path (direct loops, accumulating in
// double, independent of the thread count). onednn:: runs f32 and bf16
// through a ConvPlan: the forward primitive descriptor and, created from it
// as their hint on first use, the backward-data and backward-weights ones,
// with the reorders between HWIO and the layouts the primitives chose. A
// plan is cached per shape in the runtime and carried by the op from
// forward to backward.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "kiln/tensor/dtype.h"

namespace kiln::kernels {

class OnednnRuntime;

struct ConvDesc {
  int spatial_dims = 2;  // 2 or 3; the depth fields stay at their defaults in 2-D
  int64_t n = 0, depth = 1, h = 0, w = 0, c_in = 0;
  int64_t kd = 1, kh = 1, kw = 1, c_out = 0, groups = 1;
  int64_t stride_d = 1, stride_h = 1, stride_w = 1;
  int64_t dilation_d = 1, dilation_h = 1, dilation_w = 1;  // 1: no dilation (oneDNN counts from 0)
  int64_t pad_front = 0, pad_back = 0;
  int64_t pad_top = 0, pad_bottom = 0, pad_left = 0, pad_right = 0;
  int64_t out_depth = 1, out_h = 0, out_w = 0;
  bool has_bias = false;
  DType dtype = DType::kF32;
};

// Output size of one spatial dim (floor), which may be <= 0 for bad shapes.
int64_t conv_out_size(int64_t in, int64_t k, int64_t stride, int64_t dilation, int64_t pad_before,
                      int64_t pad_after);
std::string conv_desc_str(const ConvDesc& d);
// "conv2d" or "conv3d", for messages.
const char* conv_name(const ConvDesc& d);
// Elements of src, weights and dst.
int64_t conv_src_numel(const ConvDesc& d);
int64_t conv_weights_numel(const ConvDesc& d);
int64_t conv_dst_numel(const ConvDesc& d);

namespace ref {
// dst = conv(src, weights) + bias (bias may be null).
template <class T>
void conv_forward(const ConvDesc& d, const T* src, const T* weights, const T* bias, T* dst);
template <class T>
void conv_backward_data(const ConvDesc& d, const T* diff_dst, const T* weights, T* diff_src);
// diff_bias may be null.
template <class T>
void conv_backward_weights(const ConvDesc& d, const T* src, const T* diff_dst, T* diff_weights,
                           T* diff_bias);
}  // namespace ref

namespace onednn {

class ConvPlan;

// The cached plan for `d` (f32 or bf16; bf16 computes in f32 with
// conversions on CPUs where oneDNN has no bf16 convolution).
std::shared_ptr<ConvPlan> conv_plan(OnednnRuntime& runtime, const ConvDesc& d);
const ConvDesc& conv_plan_desc(const ConvPlan& plan);
// True when the plan runs oneDNN's bf16 kernels (false for f32 plans).
bool conv_plan_native_bf16(const ConvPlan& plan);

// Operands in d.dtype; bias null when !d.has_bias.
void conv_forward(ConvPlan& plan, const void* src, const void* weights, const void* bias,
                  void* dst);
void conv_backward_data(ConvPlan& plan, const void* diff_dst, const void* weights, void* diff_src);
// diff_bias may be null (not wanted); it is computed only for plans with bias.
void conv_backward_weights(ConvPlan& plan, const void* src, const void* diff_dst,
                           void* diff_weights, void* diff_bias);

}  // namespace onednn
}  // namespace kiln::kernels
