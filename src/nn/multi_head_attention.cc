#include "kiln/nn/layers.h"
#include "kiln/ops/shape.h"

namespace kiln::nn {

MultiHeadAttention::MultiHeadAttention(const MultiHeadAttentionOptions& options, Generator& gen)
    : options_(options) {
  MultiHeadAttentionOptions& o = options_;
  KILN_CHECK(o.num_heads > 0 && o.query_size > 0, "MultiHeadAttention: num_heads ", o.num_heads,
             " and query_size ", o.query_size, " must be positive");
  if (o.kv_size == 0) o.kv_size = o.query_size;
  if (o.key_size == 0) {
    KILN_CHECK(o.query_size % o.num_heads == 0, "MultiHeadAttention: query_size ", o.query_size,
               " is not divisible by num_heads ", o.num_heads, "; set key_size");
    o.key_size = o.query_size / o.num_heads;
  }
  if (o.value_size == 0) o.value_size = o.key_size;
  if (o.output_size == 0) o.output_size = o.query_size;
  auto linear = [&](const char* name, int64_t in, int64_t out) {
    return register_module(name,
                           std::make_shared<Linear>(LinearOptions{.in_features = in,
                                                                  .out_features = out,
                                                                  .bias = o.bias,
                                                                  .weight_init = o.weight_init},
                                                    gen));
  };
  q_proj_ = linear("query", o.query_size, o.num_heads * o.key_size);
  k_proj_ = linear("key", o.kv_size, o.num_heads * o.key_size);
  v_proj_ = linear("value", o.kv_size, o.num_heads * o.value_size);
  out_proj_ = linear("output", o.num_heads * o.value_size, o.output_size);
}

Tensor MultiHeadAttention::forward(const Tensor& query, const Tensor& key_value, const Tensor& bias,
                                   const Tensor& key_padding_mask) {
  const MultiHeadAttentionOptions& o = options_;
  KILN_CHECK(query.dim() == 3 && key_value.dim() == 3 && query.size(0) == key_value.size(0),
             "MultiHeadAttention: query ", shape_str(query.shape()), " and key_value ",
             shape_str(key_value.shape()), " must be (B, T, D) with the same B");
  const int64_t b = query.size(0), tq = query.size(1), tk = key_value.size(1);
  // (B, T, H * d) -> (B, T, H, d) -> (B, H, T, d): views, no copies.
  auto heads = [&](const Tensor& t, int64_t len, int64_t d) {
    return transpose(reshape(t, {b, len, o.num_heads, d}), 1, 2);
  };
  Tensor q = heads(q_proj_->forward(query), tq, o.key_size);
  Tensor k = heads(k_proj_->forward(key_value), tk, o.key_size);
  Tensor v = heads(v_proj_->forward(key_value), tk, o.value_size);
  Tensor attended = attention(q, k, v, bias, key_padding_mask, {.causal = o.causal});
  // (B, H, Tq, dv), stored as (B, Tq, H, dv): back to (B, Tq, H * dv).
  Tensor merged = reshape(transpose(attended, 1, 2), {b, tq, o.num_heads * o.value_size});
  return out_proj_->forward(merged);
}

}  // namespace kiln::nn
