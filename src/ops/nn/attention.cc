// Scaled dot-product attention, memory-efficient: the kernels walk blocks of
// the (Tq, Tk) score matrix and save only the output and the row logsumexp
// (B, H, Tq) for backward, which recomputes the scores blockwise.
#include <algorithm>
#include <cmath>

#include "kernels/attention.h"
#include "kiln/ops/flops.h"
#include "kiln/ops/nn.h"
#include "src/ops/op_util.h"

namespace kiln {
namespace {

constexpr const char* kOp = "attention";

// Matrix-product FLOPs of a forward pass: q k^T and p v in full (the causal
// mask does not halve them, as benchmarks.md counts); backward costs twice.
int64_t attention_flops(const kernels::AttentionDesc& d) {
  return 2 * d.batch * d.heads * d.q_len * d.k_len * (d.head_dim + d.value_dim);
}

// x (B, H, T, D) as the kernels take it: D contiguous and T rows at least D
// apart; anything else is copied.
Tensor attention_operand(const Tensor& x) {
  const bool features_ok = x.size(3) <= 1 || x.strides()[3] == 1;
  const bool rows_ok = x.size(2) <= 1 || x.strides()[2] >= x.size(3);
  const bool outer_ok = x.strides()[0] >= 0 && x.strides()[1] >= 0;
  return features_ok && rows_ok && outer_ok ? x : as_contiguous(x);
}

kernels::AttentionStrides attention_strides(const Tensor& x) {
  // The T stride is the GEMMs' leading dimension: a single row (or empty
  // rows) may have any stride, so give it a valid one.
  const int64_t t =
      x.size(2) <= 1 || x.size(3) == 0 ? std::max<int64_t>(x.size(3), 1) : x.strides()[2];
  return {x.strides()[0], x.strides()[1], t};
}

// A (B, H, T, D) tensor laid out in memory as (B, T, H, D).
Tensor attention_bthd(int64_t b, int64_t h, int64_t t, int64_t d, DType dtype) {
  Tensor memory = Tensor::empty({b, t, h, d}, dtype);
  return make_view(memory, {b, h, t, d}, {t * h * d, d, h * d, 1}, 0);
}

void attention_check(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& bias,
                     const Tensor& mask, const AttentionOptions& options) {
  ops_internal::check_defined(kOp, q, "q");
  ops_internal::check_defined(kOp, k, "k");
  ops_internal::check_defined(kOp, v, "v");
  ops_internal::check_f32_or_f64(kOp, q);
  ops_internal::check_same_dtype(kOp, q, k);
  ops_internal::check_same_dtype(kOp, q, v);
  ops_internal::check_rank(kOp, q, 4, "q (B, H, Tq, Dh)");
  ops_internal::check_rank(kOp, k, 4, "k (B, H, Tk, Dh)");
  ops_internal::check_rank(kOp, v, 4, "v (B, H, Tk, Dv)");
  KILN_CHECK(k.size(0) == q.size(0) && k.size(1) == q.size(1) && k.size(3) == q.size(3) &&
                 v.size(0) == q.size(0) && v.size(1) == q.size(1) && v.size(2) == k.size(2),
             kOp, ": q (B, H, Tq, Dh) ", shape_str(q.shape()), ", k (B, H, Tk, Dh) ",
             shape_str(k.shape()), " and v (B, H, Tk, Dv) ", shape_str(v.shape()), " do not match");
  KILN_CHECK(std::isfinite(options.scale), kOp, ": scale must be finite, got ", options.scale);
  KILN_CHECK(options.scale != 0.0 || q.size(3) > 0, kOp, ": head dim is 0 in q ",
             shape_str(q.shape()), "; pass an explicit scale");
  const int64_t batch = q.size(0), tq = q.size(2), tk = k.size(2);
  if (bias.defined()) {
    ops_internal::check_same_dtype(kOp, q, bias);
    const Shape target = {batch, q.size(1), tq, tk};
    bool ok = bias.dim() <= 4;
    for (int64_t i = 0; ok && i < bias.dim(); ++i) {
      const int64_t size = bias.size(i), want = target[4 - bias.dim() + i];
      ok = size == 1 || size == want;
    }
    KILN_CHECK(ok, kOp, ": bias ", shape_str(bias.shape()),
               " does not broadcast to (B, H, Tq, Tk) ", shape_str(target));
  }
  if (mask.defined()) {
    KILN_CHECK(mask.dtype() == DType::kBool, kOp, ": key_padding_mask must be bool, got ",
               dtype_name(mask.dtype()), " of shape ", shape_str(mask.shape()));
    KILN_CHECK(mask.dim() == 2 && mask.size(0) == batch && mask.size(1) == tk, kOp,
               ": key_padding_mask ", shape_str(mask.shape()), " must be (B, Tk) = (", batch, ", ",
               tk, ")");
  }
}

// Shapes and strides of the (prepared) forward operands.
kernels::AttentionDesc attention_desc(const Tensor& q, const Tensor& k, const Tensor& v,
                                      const Tensor& bias, const Tensor& mask, const Tensor& out,
                                      const AttentionOptions& options) {
  kernels::AttentionDesc d;
  d.batch = q.size(0);
  d.heads = q.size(1);
  d.q_len = q.size(2);
  d.k_len = k.size(2);
  d.head_dim = q.size(3);
  d.value_dim = v.size(3);
  d.scale = options.scale != 0.0 ? options.scale : 1.0 / std::sqrt(static_cast<double>(d.head_dim));
  d.causal = options.causal;
  d.q = attention_strides(q);
  d.k = attention_strides(k);
  d.v = attention_strides(v);
  d.out = attention_strides(out);
  if (bias.defined()) {
    const int64_t lead = 4 - bias.dim();
    for (int64_t i = 0; i < bias.dim(); ++i) {
      d.bias_strides[lead + i] = bias.size(i) == 1 ? 0 : bias.strides()[i];
    }
  }
  if (mask.defined()) {
    for (int i = 0; i < 2; ++i) d.mask_strides[i] = mask.size(i) == 1 ? 0 : mask.strides()[i];
  }
  return d;
}

template <class T>
kernels::AttentionTensors<T> attention_tensors(const Tensor& q, const Tensor& k, const Tensor& v,
                                               const Tensor& bias, const Tensor& mask) {
  kernels::AttentionTensors<T> t;
  t.q = q.data<T>();
  t.k = k.data<T>();
  t.v = v.data<T>();
  t.bias = bias.defined() ? bias.data<T>() : nullptr;
  t.key_padding_mask = mask.defined() ? mask.data<bool>() : nullptr;
  return t;
}

class AttentionOp final : public autograd::Node {
 public:
  std::string_view name() const override { return kOp; }

  TensorList backward(const Tensor& dy, const autograd::NeedsGrad& needs) override {
    const Tensor& q = saved(q_);
    const Tensor& k = saved(k_);
    const Tensor& v = saved(v_);
    const Tensor& bias = saved(bias_);
    const Tensor& mask = saved(mask_);
    const Tensor& out = saved(out_);
    const Tensor& lse = saved(lse_);
    const Tensor dout = attention_operand(dy);
    kernels::AttentionDesc d = attention_desc(q, k, v, bias, mask, out, options_);
    d.dout = attention_strides(dout);
    Tensor dq, dk, dv, dbias;
    if (needs[0]) dq = attention_bthd(d.batch, d.heads, d.q_len, d.head_dim, q.dtype());
    if (needs[1]) dk = attention_bthd(d.batch, d.heads, d.k_len, d.head_dim, q.dtype());
    if (needs[2]) dv = attention_bthd(d.batch, d.heads, d.k_len, d.value_dim, q.dtype());
    if (needs.size() > 3 && needs[3]) {
      dbias = Tensor::empty({d.batch, d.heads, d.q_len, d.k_len}, q.dtype());
    }
    if (dq.defined()) d.dq = attention_strides(dq);
    if (dk.defined()) d.dk = attention_strides(dk);
    if (dv.defined()) d.dv = attention_strides(dv);
    ops_internal::dispatch_f32_f64(kOp, q.dtype(), [&](auto zero) {
      using T = decltype(zero);
      kernels::AttentionTensors<T> t = attention_tensors<T>(q, k, v, bias, mask);
      t.out = out.data<T>();
      t.lse = lse.data<T>();
      t.dout = dout.data<T>();
      t.dq = dq.defined() ? dq.data<T>() : nullptr;
      t.dk = dk.defined() ? dk.data<T>() : nullptr;
      t.dv = dv.defined() ? dv.data<T>() : nullptr;
      t.dbias = dbias.defined() ? dbias.data<T>() : nullptr;
      FlopCounter::add(2 * attention_flops(d));
      kernels::attention_backward(d, t);
    });
    return {dq, dk, dv, dbias};
  }

  AttentionOptions options_;
  int q_ = -1, k_ = -1, v_ = -1, bias_ = -1, mask_ = -1, out_ = -1, lse_ = -1;
};

}  // namespace

Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& bias,
                 const Tensor& key_padding_mask, const AttentionOptions& options) {
  attention_check(q, k, v, bias, key_padding_mask, options);
  const Tensor qc = attention_operand(q), kc = attention_operand(k), vc = attention_operand(v);
  const Tensor& mask = key_padding_mask;
  const int64_t batch = q.size(0), heads = q.size(1), tq = q.size(2);
  Tensor out = attention_bthd(batch, heads, tq, v.size(3), q.dtype());
  Tensor lse = Tensor::empty({batch, heads, tq}, q.dtype());
  const kernels::AttentionDesc d = attention_desc(qc, kc, vc, bias, mask, out, options);
  ops_internal::dispatch_f32_f64(kOp, q.dtype(), [&](auto zero) {
    using T = decltype(zero);
    kernels::AttentionTensors<T> t = attention_tensors<T>(qc, kc, vc, bias, mask);
    t.out = out.data<T>();
    t.lse = lse.data<T>();
    FlopCounter::add(attention_flops(d));
    kernels::attention_forward(d, t);
  });
  ops_internal::record<AttentionOp>(out, {q, k, v, bias}, [&](AttentionOp& node) {
    node.options_ = options;
    node.q_ = node.save(qc);
    node.k_ = node.save(kc);
    node.v_ = node.save(vc);
    node.bias_ = node.save(bias);
    node.mask_ = node.save(mask);
    node.out_ = node.save(out);
    node.lse_ = node.save(lse);
  });
  return out;
}

}  // namespace kiln
