#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "kernels/conv.h"
#include "kernels/onednn/onednn_util.h"
#include "kiln/core/error.h"

namespace kiln::kernels::onednn {

using dnnl::memory;
using Tag = memory::format_tag;

namespace {

bool is_3d(const ConvDesc& d) { return d.spatial_dims == 3; }

// Spatial dims, outermost first: (D, H, W) in 3-D, (H, W) in 2-D.
memory::dims spatial(const ConvDesc& d, int64_t dv, int64_t hv, int64_t wv) {
  return is_3d(d) ? memory::dims{dv, hv, wv} : memory::dims{hv, wv};
}

// oneDNN's weights dims, [G, OC/G, IC/G | OC, IC] then the kernel's spatial
// dims, as given by `spatial`.
memory::dims weights_dims(const ConvDesc& d) {
  const int64_t icg = d.c_in / d.groups, ocg = d.c_out / d.groups;
  memory::dims dims =
      d.groups > 1 ? memory::dims{d.groups, ocg, icg} : memory::dims{d.c_out, d.c_in};
  for (int64_t k : spatial(d, d.kd, d.kh, d.kw)) dims.push_back(k);
  return dims;
}

// oneDNN's weights dims with the strides that lay them out as kiln's HWIO
// (KH, KW, IC/G, OC), or DHWIO (KD, KH, KW, IC/G, OC) in 3-D.
memory::desc hwio_md(const ConvDesc& d, memory::data_type dt) {
  const int64_t icg = d.c_in / d.groups, ocg = d.c_out / d.groups;
  const int64_t s_kw = icg * d.c_out, s_kh = d.kw * s_kw, s_kd = d.kh * s_kh;
  memory::dims strides = d.groups > 1 ? memory::dims{ocg, 1, d.c_out} : memory::dims{1, d.c_out};
  for (int64_t s : spatial(d, s_kd, s_kh, s_kw)) strides.push_back(s);
  return memory::desc(weights_dims(d), dt, strides);
}

memory::desc any_weights_md(const ConvDesc& d, memory::data_type dt) {
  return memory::desc(weights_dims(d), dt, Tag::any);
}

// Channels-last activations: (N, C, [D,] H, W) dims laid out as
// (N, [D,] H, W, C).
memory::desc activation_md(const ConvDesc& d, int64_t c, int64_t dv, int64_t hv, int64_t wv,
                           memory::data_type dt) {
  memory::dims dims{d.n, c};
  for (int64_t s : spatial(d, dv, hv, wv)) dims.push_back(s);
  return memory::desc(dims, dt, is_3d(d) ? Tag::ndhwc : Tag::nhwc);
}

// No pixels, no input or no output channels: nothing for oneDNN to do, and
// it rejects some of these shapes.
bool degenerate(const ConvDesc& d) {
  return d.n * d.out_depth * d.out_h * d.out_w == 0 || d.depth * d.h * d.w == 0 || d.c_in == 0 ||
         d.c_out == 0;
}

std::string conv_key(const ConvDesc& d) {
  KeyBuilder key("conv");
  key.add(d.spatial_dims).add(d.n).add(d.depth).add(d.h).add(d.w).add(d.c_in);
  key.add(d.kd).add(d.kh).add(d.kw).add(d.c_out).add(d.groups);
  key.add(d.stride_d).add(d.stride_h).add(d.stride_w);
  key.add(d.dilation_d).add(d.dilation_h).add(d.dilation_w);
  key.add(d.pad_front).add(d.pad_back).add(d.pad_top).add(d.pad_bottom).add(d.pad_left);
  key.add(d.pad_right).add(d.out_depth).add(d.out_h).add(d.out_w);
  key.add(d.has_bias ? 1 : 0).add(static_cast<int64_t>(d.dtype));
  return key.str();
}

}  // namespace

// Primitives for one convolution shape. The forward primitive descriptor is
// the hint the backward ones are created from (on first use, once).
class ConvPlan {
 public:
  ConvPlan(const dnnl::engine& engine, const ConvDesc& d)
      : desc_(d), engine_(engine), stream_(engine) {
    if (degenerate(d)) return;
    const memory::data_type dt = dnnl_dtype(d.dtype);
    src_md_ = activation_md(d, d.c_in, d.depth, d.h, d.w, dt);
    dst_md_ = activation_md(d, d.c_out, d.out_depth, d.out_h, d.out_w, dt);
    user_weights_md_ = hwio_md(d, dt);
    if (d.has_bias) bias_md_ = memory::desc({d.c_out}, dt, Tag::x);
    strides_ = spatial(d, d.stride_d, d.stride_h, d.stride_w);
    dilates_ = spatial(d, d.dilation_d - 1, d.dilation_h - 1, d.dilation_w - 1);
    pad_l_ = spatial(d, d.pad_front, d.pad_top, d.pad_left);
    pad_r_ = spatial(d, d.pad_back, d.pad_bottom, d.pad_right);
    native_forward_ = try_make_pd([&] {
      const memory::desc w = any_weights_md(d, dt);
      using Fwd = dnnl::convolution_forward;
      const auto prop = dnnl::prop_kind::forward_training;
      const auto alg = dnnl::algorithm::convolution_direct;
      forward_pd_ = d.has_bias
                        ? Fwd::primitive_desc(Fwd::desc(prop, alg, src_md_, w, bias_md_, dst_md_,
                                                        strides_, dilates_, pad_l_, pad_r_),
                                              engine_)
                        : Fwd::primitive_desc(Fwd::desc(prop, alg, src_md_, w, dst_md_, strides_,
                                                        dilates_, pad_l_, pad_r_),
                                              engine_);
    });
    KILN_CHECK(native_forward_ || d.dtype == DType::kBF16, conv_name(d),
               ": oneDNN has no implementation for ", conv_desc_str(d));
    if (!native_forward_) return;
    forward_ = dnnl::convolution_forward(forward_pd_);
    weights_to_forward_ = make_reorder(user_weights_md_, forward_pd_.weights_desc());
  }

  const ConvDesc& desc() const { return desc_; }
  bool native_forward() const { return native_forward_; }

  void forward(const void* src, const void* weights, const void* bias, void* dst) {
    if (degenerate(desc_)) return degenerate_forward(bias, dst);
    if (!native_forward_) return f32_plan().forward_converted(src, weights, bias, dst);
    std::unordered_map<int, memory> args{
        {DNNL_ARG_SRC, wrap(src_md_, src)},
        {DNNL_ARG_WEIGHTS, weights_for(weights_to_forward_, forward_pd_.weights_desc(), weights)},
        {DNNL_ARG_DST, wrap(dst_md_, dst)}};
    if (desc_.has_bias) args[DNNL_ARG_BIAS] = wrap(bias_md_, bias);
    forward_.execute(stream_, args);
    stream_.wait();
  }

  void backward_data(const void* diff_dst, const void* weights, void* diff_src) {
    if (degenerate(desc_)) {
      zero(diff_src, src_numel());
      return;
    }
    std::call_once(backward_data_once_, [&] { init_backward_data(); });
    if (!native_backward_data_) {
      return f32_plan().backward_data_converted(diff_dst, weights, diff_src);
    }
    backward_data_.execute(
        stream_, {{DNNL_ARG_DIFF_DST, wrap(dst_md_, diff_dst)},
                  {DNNL_ARG_WEIGHTS, weights_for(weights_to_backward_data_,
                                                 backward_data_pd_.weights_desc(), weights)},
                  {DNNL_ARG_DIFF_SRC, wrap(src_md_, diff_src)}});
    stream_.wait();
  }

  void backward_weights(const void* src, const void* diff_dst, void* diff_weights,
                        void* diff_bias) {
    if (degenerate(desc_)) return degenerate_backward_weights(diff_dst, diff_weights, diff_bias);
    std::call_once(backward_weights_once_, [&] { init_backward_weights(); });
    if (!native_backward_weights_) {
      return f32_plan().backward_weights_converted(src, diff_dst, diff_weights, diff_bias);
    }
    const memory::desc& prim_md = backward_weights_pd_.diff_weights_desc();
    memory prim_dw =
        diff_weights_to_user_ ? memory(prim_md, engine_) : wrap(user_weights_md_, diff_weights);
    std::unordered_map<int, memory> args{{DNNL_ARG_SRC, wrap(src_md_, src)},
                                         {DNNL_ARG_DIFF_DST, wrap(dst_md_, diff_dst)},
                                         {DNNL_ARG_DIFF_WEIGHTS, prim_dw}};
    if (desc_.has_bias) {
      args[DNNL_ARG_DIFF_BIAS] =
          diff_bias != nullptr ? wrap(bias_md_, diff_bias) : memory(bias_md_, engine_);
    }
    backward_weights_.execute(stream_, args);
    if (diff_weights_to_user_) {
      memory user_dw = wrap(user_weights_md_, diff_weights);
      diff_weights_to_user_->execute(stream_, prim_dw, user_dw);
    }
    stream_.wait();
  }

 private:
  memory wrap(const memory::desc& md, const void* data) const {
    return memory(md, engine_, const_cast<void*>(data));
  }

  std::optional<dnnl::reorder> make_reorder(const memory::desc& from, const memory::desc& to) {
    if (from == to) return std::nullopt;
    return dnnl::reorder(dnnl::reorder::primitive_desc(engine_, from, engine_, to));
  }

  // The user's HWIO weights in the layout a primitive wants (a reordered
  // copy, or the user's buffer when the layouts agree).
  memory weights_for(const std::optional<dnnl::reorder>& reorder, const memory::desc& prim_md,
                     const void* weights) {
    memory user = wrap(user_weights_md_, weights);
    if (!reorder) return user;
    memory prim(prim_md, engine_);
    reorder->execute(stream_, user, prim);
    return prim;
  }

  void init_backward_data() {
    const memory::data_type dt = dnnl_dtype(desc_.dtype);
    native_backward_data_ =
        native_forward_ && try_make_pd([&] {
          using Bwd = dnnl::convolution_backward_data;
          backward_data_pd_ = Bwd::primitive_desc(
              Bwd::desc(dnnl::algorithm::convolution_direct, src_md_, any_weights_md(desc_, dt),
                        dst_md_, strides_, dilates_, pad_l_, pad_r_),
              engine_, forward_pd_);
        });
    KILN_CHECK(native_backward_data_ || desc_.dtype == DType::kBF16, conv_name(desc_),
               ": oneDNN has no backward-data implementation for ", conv_desc_str(desc_));
    if (!native_backward_data_) return;
    backward_data_ = dnnl::convolution_backward_data(backward_data_pd_);
    weights_to_backward_data_ = make_reorder(user_weights_md_, backward_data_pd_.weights_desc());
  }

  void init_backward_weights() {
    const memory::data_type dt = dnnl_dtype(desc_.dtype);
    native_backward_weights_ =
        native_forward_ && try_make_pd([&] {
          using Bwd = dnnl::convolution_backward_weights;
          const auto alg = dnnl::algorithm::convolution_direct;
          const memory::desc w = any_weights_md(desc_, dt);
          backward_weights_pd_ =
              desc_.has_bias ? Bwd::primitive_desc(Bwd::desc(alg, src_md_, w, bias_md_, dst_md_,
                                                             strides_, dilates_, pad_l_, pad_r_),
                                                   engine_, forward_pd_)
                             : Bwd::primitive_desc(Bwd::desc(alg, src_md_, w, dst_md_, strides_,
                                                             dilates_, pad_l_, pad_r_),
                                                   engine_, forward_pd_);
        });
    KILN_CHECK(native_backward_weights_ || desc_.dtype == DType::kBF16, conv_name(desc_),
               ": oneDNN has no backward-weights implementation for ", conv_desc_str(desc_));
    if (!native_backward_weights_) return;
    backward_weights_ = dnnl::convolution_backward_weights(backward_weights_pd_);
    diff_weights_to_user_ =
        make_reorder(backward_weights_pd_.diff_weights_desc(), user_weights_md_);
  }

  // The same convolution in f32, for bf16 where oneDNN has no bf16 kernel.
  ConvPlan& f32_plan() {
    std::call_once(f32_once_, [&] {
      ConvDesc f = desc_;
      f.dtype = DType::kF32;
      f32_ = std::make_unique<ConvPlan>(engine_, f);
    });
    return *f32_;
  }

  int64_t src_numel() const { return conv_src_numel(desc_); }
  int64_t dst_numel() const { return conv_dst_numel(desc_); }
  int64_t weights_numel() const { return conv_weights_numel(desc_); }

  // This plan is f32; the operands are bf16.
  void forward_converted(const void* src, const void* weights, const void* bias, void* dst) {
    const std::vector<float> x = bf16_to_f32_vector(src, src_numel());
    const std::vector<float> w = bf16_to_f32_vector(weights, weights_numel());
    const std::vector<float> b =
        bias != nullptr ? bf16_to_f32_vector(bias, desc_.c_out) : std::vector<float>();
    std::vector<float> y(static_cast<size_t>(dst_numel()));
    forward(x.data(), w.data(), bias != nullptr ? b.data() : nullptr, y.data());
    f32_to_bf16_buffer(y, dst);
  }
  void backward_data_converted(const void* diff_dst, const void* weights, void* diff_src) {
    const std::vector<float> dy = bf16_to_f32_vector(diff_dst, dst_numel());
    const std::vector<float> w = bf16_to_f32_vector(weights, weights_numel());
    std::vector<float> dx(static_cast<size_t>(src_numel()));
    backward_data(dy.data(), w.data(), dx.data());
    f32_to_bf16_buffer(dx, diff_src);
  }
  void backward_weights_converted(const void* src, const void* diff_dst, void* diff_weights,
                                  void* diff_bias) {
    const std::vector<float> x = bf16_to_f32_vector(src, src_numel());
    const std::vector<float> dy = bf16_to_f32_vector(diff_dst, dst_numel());
    std::vector<float> dw(static_cast<size_t>(weights_numel()));
    std::vector<float> db(static_cast<size_t>(desc_.c_out));
    backward_weights(x.data(), dy.data(), dw.data(), diff_bias != nullptr ? db.data() : nullptr);
    f32_to_bf16_buffer(dw, diff_weights);
    if (diff_bias != nullptr) f32_to_bf16_buffer(db, diff_bias);
  }

  void zero(void* data, int64_t n) const {
    if (n > 0) std::memset(data, 0, static_cast<size_t>(n * dtype_size(desc_.dtype)));
  }

  void degenerate_forward(const void* bias, void* dst) {
    const int64_t rows = desc_.n * desc_.out_depth * desc_.out_h * desc_.out_w;
    if (bias == nullptr || rows * desc_.c_out == 0) return zero(dst, rows * desc_.c_out);
    const int64_t size = dtype_size(desc_.dtype) * desc_.c_out;
    for (int64_t r = 0; r < rows; ++r) {
      std::memcpy(static_cast<char*>(dst) + r * size, bias, static_cast<size_t>(size));
    }
  }

  void degenerate_backward_weights(const void* diff_dst, void* diff_weights, void* diff_bias) {
    zero(diff_weights, weights_numel());
    if (diff_bias == nullptr) return;
    const int64_t rows = desc_.n * desc_.out_depth * desc_.out_h * desc_.out_w;
    std::vector<float> sums(static_cast<size_t>(desc_.c_out), 0.0f);
    const std::vector<float> dy = to_f32_vector(diff_dst, desc_.dtype, rows * desc_.c_out);
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t o = 0; o < desc_.c_out; ++o) sums[o] += dy[r * desc_.c_out + o];
    }
    from_f32_vector(sums, desc_.dtype, diff_bias);
  }

  ConvDesc desc_;
  dnnl::engine engine_;
  dnnl::stream stream_;
  memory::desc src_md_, dst_md_, user_weights_md_, bias_md_;
  memory::dims strides_, dilates_, pad_l_, pad_r_;

  bool native_forward_ = false;
  dnnl::convolution_forward::primitive_desc forward_pd_;
  dnnl::convolution_forward forward_;
  std::optional<dnnl::reorder> weights_to_forward_;

  std::once_flag backward_data_once_;
  bool native_backward_data_ = false;
  dnnl::convolution_backward_data::primitive_desc backward_data_pd_;
  dnnl::convolution_backward_data backward_data_;
  std::optional<dnnl::reorder> weights_to_backward_data_;

  std::once_flag backward_weights_once_;
  bool native_backward_weights_ = false;
  dnnl::convolution_backward_weights::primitive_desc backward_weights_pd_;
  dnnl::convolution_backward_weights backward_weights_;
  std::optional<dnnl::reorder> diff_weights_to_user_;

  std::once_flag f32_once_;
  std::unique_ptr<ConvPlan> f32_;
};

std::shared_ptr<ConvPlan> conv_plan(OnednnRuntime& runtime, const ConvDesc& d) {
  KILN_CHECK(d.dtype == DType::kF32 || d.dtype == DType::kBF16, conv_name(d),
             ": the oneDNN kernel runs f32 or bf16, got ", dtype_name(d.dtype));
  KILN_CHECK((d.spatial_dims == 2 || d.spatial_dims == 3) && d.groups >= 1 &&
                 d.c_in % d.groups == 0 && d.c_out % d.groups == 0 && d.out_depth >= 0 &&
                 d.out_h >= 0 && d.out_w >= 0,
             conv_name(d), ": bad descriptor ", conv_desc_str(d));
  return runtime.cached<ConvPlan>(conv_key(d),
                                  [&] { return std::make_shared<ConvPlan>(runtime.engine(), d); });
}

const ConvDesc& conv_plan_desc(const ConvPlan& plan) { return plan.desc(); }

bool conv_plan_native_bf16(const ConvPlan& plan) {
  return plan.desc().dtype == DType::kBF16 && plan.native_forward();
}

void conv_forward(ConvPlan& plan, const void* src, const void* weights, const void* bias,
                  void* dst) {
  plan.forward(src, weights, bias, dst);
}

void conv_backward_data(ConvPlan& plan, const void* diff_dst, const void* weights, void* diff_src) {
  plan.backward_data(diff_dst, weights, diff_src);
}

void conv_backward_weights(ConvPlan& plan, const void* src, const void* diff_dst,
                           void* diff_weights, void* diff_bias) {
  plan.backward_weights(src, diff_dst, diff_weights, diff_bias);
}

}  // namespace kiln::kernels::onednn
