#include <cstring>
#include <memory>
#include <mutex>
#include <vector>

#include "kernels/onednn/onednn_util.h"
#include "kernels/pool.h"
#include "kiln/core/error.h"

namespace kiln::kernels::onednn {

using dnnl::memory;
using Tag = memory::format_tag;

namespace {

std::string pool_key(const PoolDesc& d) {
  KeyBuilder key("pool");
  key.add(d.spatial_dims).add(d.n).add(d.depth).add(d.h).add(d.w).add(d.c);
  key.add(d.kd).add(d.kh).add(d.kw).add(d.stride_d).add(d.stride_h).add(d.stride_w);
  key.add(d.pad_front).add(d.pad_back).add(d.pad_top).add(d.pad_bottom).add(d.pad_left);
  key.add(d.pad_right).add(d.out_depth).add(d.out_h).add(d.out_w);
  key.add(static_cast<int64_t>(d.alg)).add(static_cast<int64_t>(d.dtype));
  return key.str();
}

bool empty(const PoolDesc& d) { return pool_dst_numel(d) == 0; }

bool is_3d(const PoolDesc& d) { return d.spatial_dims == 3; }

// Spatial dims, outermost first: (D, H, W) in 3-D, (H, W) in 2-D.
memory::dims spatial(const PoolDesc& d, int64_t dv, int64_t hv, int64_t wv) {
  return is_3d(d) ? memory::dims{dv, hv, wv} : memory::dims{hv, wv};
}

// Channels-last: (N, C, [D,] H, W) dims laid out as (N, [D,] H, W, C).
memory::desc activation_md(const PoolDesc& d, int64_t dv, int64_t hv, int64_t wv,
                           memory::data_type dt) {
  memory::dims dims{d.n, d.c};
  for (int64_t s : spatial(d, dv, hv, wv)) dims.push_back(s);
  return memory::desc(dims, dt, is_3d(d) ? Tag::ndhwc : Tag::nhwc);
}

}  // namespace

// The forward primitive (training: max pooling writes its workspace) and the
// backward one, created on first use with the forward descriptor as hint.
class PoolPlan {
 public:
  PoolPlan(const dnnl::engine& engine, const PoolDesc& d)
      : desc_(d), engine_(engine), stream_(engine) {
    if (empty(d)) return;
    const memory::data_type dt = dnnl_dtype(d.dtype);
    src_md_ = activation_md(d, d.depth, d.h, d.w, dt);
    dst_md_ = activation_md(d, d.out_depth, d.out_h, d.out_w, dt);
    alg_ = d.alg == PoolAlg::kMax ? dnnl::algorithm::pooling_max
                                  : dnnl::algorithm::pooling_avg_exclude_padding;
    strides_ = spatial(d, d.stride_d, d.stride_h, d.stride_w);
    kernel_ = spatial(d, d.kd, d.kh, d.kw);
    pad_l_ = spatial(d, d.pad_front, d.pad_top, d.pad_left);
    pad_r_ = spatial(d, d.pad_back, d.pad_bottom, d.pad_right);
    native_ = try_make_pd([&] {
      using Fwd = dnnl::pooling_forward;
      forward_pd_ = Fwd::primitive_desc(Fwd::desc(dnnl::prop_kind::forward_training, alg_, src_md_,
                                                  dst_md_, strides_, kernel_, pad_l_, pad_r_),
                                        engine_);
    });
    if (!native_) {
      KILN_CHECK(d.dtype == DType::kBF16, "pool: oneDNN has no implementation for ",
                 pool_desc_str(d));
      // bf16 without oneDNN support: pool in f32.
      PoolDesc f = d;
      f.dtype = DType::kF32;
      f32_ = std::make_unique<PoolPlan>(engine_, f);
      return;
    }
    forward_ = dnnl::pooling_forward(forward_pd_);
    if (d.alg == PoolAlg::kMax) workspace_md_ = forward_pd_.workspace_desc();
  }

  int64_t workspace_bytes() const {
    if (f32_) return f32_->workspace_bytes();
    return static_cast<int64_t>(workspace_md_.get_size());
  }

  void forward(const void* src, void* dst, void* workspace) {
    if (empty(desc_)) return;
    if (f32_) {
      const std::vector<float> x = bf16_to_f32_vector(src, pool_src_numel(desc_));
      std::vector<float> y(static_cast<size_t>(pool_dst_numel(desc_)));
      f32_->forward(x.data(), y.data(), workspace);
      return f32_to_bf16_buffer(y, dst);
    }
    std::unordered_map<int, memory> args{{DNNL_ARG_SRC, wrap(src_md_, src)},
                                         {DNNL_ARG_DST, wrap(dst_md_, dst)}};
    if (desc_.alg == PoolAlg::kMax) args[DNNL_ARG_WORKSPACE] = wrap(workspace_md_, workspace);
    execute(forward_, args);
  }

  void backward(const void* diff_dst, const void* workspace, void* diff_src) {
    const int64_t src_n = pool_src_numel(desc_);
    if (empty(desc_)) {
      if (src_n > 0) std::memset(diff_src, 0, static_cast<size_t>(src_n * dtype_size(desc_.dtype)));
      return;
    }
    if (f32_) {
      const std::vector<float> dy = bf16_to_f32_vector(diff_dst, pool_dst_numel(desc_));
      std::vector<float> dx(static_cast<size_t>(src_n));
      f32_->backward(dy.data(), workspace, dx.data());
      return f32_to_bf16_buffer(dx, diff_src);
    }
    std::call_once(backward_once_, [&] {
      using Bwd = dnnl::pooling_backward;
      backward_ = Bwd(
          Bwd::primitive_desc(Bwd::desc(alg_, src_md_, dst_md_, strides_, kernel_, pad_l_, pad_r_),
                              engine_, forward_pd_));
    });
    std::unordered_map<int, memory> args{{DNNL_ARG_DIFF_DST, wrap(dst_md_, diff_dst)},
                                         {DNNL_ARG_DIFF_SRC, wrap(src_md_, diff_src)}};
    if (desc_.alg == PoolAlg::kMax) args[DNNL_ARG_WORKSPACE] = wrap(workspace_md_, workspace);
    execute(backward_, args);
  }

 private:
  memory wrap(const memory::desc& md, const void* data) const {
    return memory(md, engine_, const_cast<void*>(data));
  }
  void execute(const dnnl::primitive& p, const std::unordered_map<int, memory>& args) {
    p.execute(stream_, args);
    stream_.wait();
  }

  PoolDesc desc_;
  dnnl::engine engine_;
  dnnl::stream stream_;
  memory::desc src_md_, dst_md_, workspace_md_;
  dnnl::algorithm alg_ = dnnl::algorithm::pooling_max;
  memory::dims strides_, kernel_, pad_l_, pad_r_;
  bool native_ = false;
  dnnl::pooling_forward::primitive_desc forward_pd_;
  dnnl::pooling_forward forward_;
  std::once_flag backward_once_;
  dnnl::pooling_backward backward_;
  std::unique_ptr<PoolPlan> f32_;
};

std::shared_ptr<PoolPlan> pool_plan(OnednnRuntime& runtime, const PoolDesc& d) {
  KILN_CHECK(d.dtype == DType::kF32 || d.dtype == DType::kBF16,
             "pool: the oneDNN kernel runs f32 or bf16, got ", dtype_name(d.dtype));
  return runtime.cached<PoolPlan>(pool_key(d),
                                  [&] { return std::make_shared<PoolPlan>(runtime.engine(), d); });
}

int64_t pool_workspace_bytes(const PoolPlan& plan) { return plan.workspace_bytes(); }

void pool_forward(PoolPlan& plan, const void* src, void* dst, void* workspace) {
  plan.forward(src, dst, workspace);
}

void pool_backward(PoolPlan& plan, const void* diff_dst, const void* workspace, void* diff_src) {
  plan.backward(diff_dst, workspace, diff_src);
}

}  // namespace kiln::kernels::onednn
