// 2-D and 3-D max and average pooling, channels-last: src (N, H, W, C), dst
// (N, OH, OW, C), or src (N, D, H, W, C), dst (N, OD, OH, OW, C) in 3-D
// (2-D is 3-D with depth, window depth and output depth 1; spatial_dims
// picks the oneDNN primitive's rank). Contiguous. Windows start at
// o * stride - pad_before;
// padded positions are never the maximum and never counted by the average
// (TensorFlow's SAME semantics). Every window must hold at least one real
// element (padding < kernel guarantees it).
//
// ref:: is the oracle and the f64 path; its max pooling records the argmax
// ((d * H + h) * W + w within the image) of every output for the backward pass.
// onednn:: runs f32 and bf16 through a cached PoolPlan; max pooling there
// records oneDNN's workspace, which the op carries from forward to backward.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "kiln/tensor/dtype.h"

namespace kiln::kernels {

class OnednnRuntime;

enum class PoolAlg { kMax, kAvg };

struct PoolDesc {
  int spatial_dims = 2;  // 2 or 3; the depth fields stay at their defaults in 2-D
  int64_t n = 0, depth = 1, h = 0, w = 0, c = 0;
  int64_t kd = 1, kh = 1, kw = 1;
  int64_t stride_d = 1, stride_h = 1, stride_w = 1;
  int64_t pad_front = 0, pad_back = 0;
  int64_t pad_top = 0, pad_bottom = 0, pad_left = 0, pad_right = 0;
  int64_t out_depth = 1, out_h = 0, out_w = 0;
  PoolAlg alg = PoolAlg::kMax;
  DType dtype = DType::kF32;
};

std::string pool_desc_str(const PoolDesc& d);
int64_t pool_src_numel(const PoolDesc& d);
int64_t pool_dst_numel(const PoolDesc& d);

namespace ref {
// argmax (N, [OD,] OH, OW, C) is written for kMax and ignored (may be null) for kAvg.
template <class T>
void pool_forward(const PoolDesc& d, const T* src, T* dst, int32_t* argmax);
// diff_src is overwritten; argmax as written by pool_forward (kMax only).
template <class T>
void pool_backward(const PoolDesc& d, const T* diff_dst, const int32_t* argmax, T* diff_src);
}  // namespace ref

namespace onednn {

class PoolPlan;

// The cached plan for `d` (f32 or bf16; bf16 pools in f32 with conversions
// on CPUs where oneDNN has no bf16 pooling).
std::shared_ptr<PoolPlan> pool_plan(OnednnRuntime& runtime, const PoolDesc& d);
// Bytes of workspace pool_forward writes for pool_backward (0 for kAvg).
int64_t pool_workspace_bytes(const PoolPlan& plan);
void pool_forward(PoolPlan& plan, const void* src, void* dst, void* workspace);
void pool_backward(PoolPlan& plan, const void* diff_dst, const void* workspace, void* diff_src);

}  // namespace onednn
}  // namespace kiln::kernels
