// Blocked f32 attention (flash-attention style): block GEMMs through
// oneDNN's dnnl_sgemm (JIT-dispatched to the CPU's best ISA; single-threaded
// inside our OpenMP region), the softmax steps per ISA (kernels/simd/) with
// a portable version here. Per thread it holds a few (block_q, block_k)
// tiles, never a (Tq, Tk) matrix.
#include <omp.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <vector>

#include "kernels/attention.h"
#include "oneapi/dnnl/dnnl.h"

namespace kiln::kernels {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// Row-major C (m, n) = alpha op(A) op(B) + beta C with beta 0 or 1.
void gemm(char trans_a, char trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  if (k == 0) {
    if (beta == 0.0f) {
      for (int64_t i = 0; i < m; ++i) std::fill(c + i * ldc, c + i * ldc + n, 0.0f);
    }
    return;
  }
  const dnnl_status_t status =
      dnnl_sgemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  if (status != dnnl_success) {
    // Arguments are validated by the op; reaching this is a kiln bug, and we
    // are inside an OpenMP region where throwing is not allowed.
    std::fprintf(stderr, "kiln attention: dnnl_sgemm failed (status %d)\n",
                 static_cast<int>(status));
    std::abort();
  }
}

// --- Portable block steps (Isa::kRef) ---------------------------------------
// Four floats as a GCC/Clang generic vector (one SSE register in this
// ISA-neutral file). Plain scalar loops around selects do not vectorise here:
// with trapping math the compiler will not speculate the arithmetic.
typedef float F4 __attribute__((vector_size(16)));
typedef int32_t I4 __attribute__((vector_size(16)));
constexpr int64_t kWidth = 4;
static_assert(kAttentionBlockK % kWidth == 0 && kAttentionForwardBlockK % kWidth == 0,
              "tile rows are padded to whole vectors");

F4 splat(float v) { return F4{} + v; }
F4 load(const float* p) {
  F4 v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}
void store(float* p, F4 v) { std::memcpy(p, &v, sizeof(v)); }

// exp(x) as 2^n p(r), n = round(x log2 e), with Cephes' expf polynomial
// (relative error below 1e-7). Exactly 0 below about -87.7, in particular
// exp(-inf): n = -127 makes 2^n the bit pattern of +0. NaN stays NaN.
F4 exp4(F4 x) {
  x = x < splat(-88.0f) ? splat(-88.0f) : x;
  x = x > splat(88.0f) ? splat(88.0f) : x;
  const F4 n = (x * 1.44269504f + 12582912.0f) - 12582912.0f;  // round to nearest
  const F4 r = (x - n * 0.693359375f) + n * 2.12194440e-4f;
  F4 p = splat(1.9875691500e-4f);
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const F4 e = p * r * r + r + 1.0f;
  const I4 two_n = (__builtin_convertvector(n, I4) + 127) << 23;
  return e * std::bit_cast<F4>(two_n);
}

// x[j] = exp(x[j] - shift) for j < n; returns their sum. x has room for n
// rounded up to kWidth (tile rows are whole blocks of keys).
float exp_row(float* x, int64_t n, float shift) {
  F4 acc = {};
  int64_t j = 0;
  for (; j + kWidth <= n; j += kWidth) {
    const F4 e = exp4(load(x + j) - shift);
    store(x + j, e);
    acc += e;
  }
  if (j < n) {
    F4 e = exp4(load(x + j) - shift);
    for (int64_t l = n - j; l < kWidth; ++l) e[l] = 0.0f;
    store(x + j, e);
    acc += e;
  }
  return (acc[0] + acc[1]) + (acc[2] + acc[3]);
}

float row_max(const float* x, int64_t n) {
  F4 acc = splat(kNegInf);
  int64_t j = 0;
  for (; j + kWidth <= n; j += kWidth) {
    const F4 v = load(x + j);
    acc = v > acc ? v : acc;
  }
  float m = acc[0];
  for (int64_t l = 1; l < kWidth; ++l) m = acc[l] > m ? acc[l] : m;
  for (; j < n; ++j) m = x[j] > m ? x[j] : m;
  return m;
}

void softmax_block(float* s, int64_t ld, int64_t mq, int64_t nk, float* m, float* l, float* alpha) {
  for (int64_t i = 0; i < mq; ++i) {
    float* row = s + i * ld;
    const float m_new = std::max(m[i], row_max(row, nk));
    if (m_new == kNegInf) {  // nothing visible yet
      std::fill(row, row + nk, 0.0f);
      alpha[i] = 1.0f;
      continue;
    }
    const float sum = exp_row(row, nk, m_new);
    alpha[i] = std::exp(m[i] - m_new);
    l[i] = l[i] * alpha[i] + sum;
    m[i] = m_new;
  }
}

void probabilities_block(float* s, int64_t ld, int64_t mq, int64_t nk, const float* lse) {
  for (int64_t i = 0; i < mq; ++i) {
    float* row = s + i * ld;
    if (lse[i] == kNegInf) {
      std::fill(row, row + nk, 0.0f);
    } else {
      exp_row(row, nk, lse[i]);
    }
  }
}

void score_grad_block(const float* p, float* dp, int64_t ld, int64_t mq, int64_t nk,
                      const float* delta) {
  for (int64_t i = 0; i < mq; ++i) {
    const float* p_row = p + i * ld;
    float* row = dp + i * ld;
    const float di = delta[i];
    for (int64_t j = 0; j < nk; ++j) row[j] = p_row[j] * (row[j] - di);
  }
}

// --- The blocked kernel -------------------------------------------------------

struct BlockSteps {
  decltype(&softmax_block) softmax;
  decltype(&probabilities_block) probabilities;
  decltype(&score_grad_block) score_grad;
};

BlockSteps block_steps(Isa isa) {
  switch (isa) {
    case Isa::kAvx512:
      return {avx512::attention_softmax_block, avx512::attention_probabilities_block,
              avx512::attention_score_grad_block};
    case Isa::kAvx2:
      return {avx2::attention_softmax_block, avx2::attention_probabilities_block,
              avx2::attention_score_grad_block};
    case Isa::kRef:
      break;
  }
  return {softmax_block, probabilities_block, score_grad_block};
}

// sum_j x[j] y[j] in a fixed order.
float row_dot(const float* x, const float* y, int64_t n) {
  F4 acc = {};
  int64_t j = 0;
  for (; j + kWidth <= n; j += kWidth) acc += load(x + j) * load(y + j);
  float s = (acc[0] + acc[1]) + (acc[2] + acc[3]);
  for (; j < n; ++j) s += x[j] * y[j];
  return s;
}

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// One call: shapes, pointers, block steps.
struct Problem {
  const AttentionDesc& d;
  const AttentionTensors<float>& t;
  BlockSteps steps;
  int64_t offset;  // Tk - Tq: query i sees keys j <= i + offset when causal

  // Keys [0, end) are visible to some query in [i0, i0 + mq).
  int64_t key_end(int64_t i0, int64_t mq) const {
    if (!d.causal) return d.k_len;
    return std::clamp<int64_t>(i0 + mq + offset, 0, d.k_len);
  }
  // First query that sees key j.
  int64_t query_begin(int64_t j) const {
    if (!d.causal) return 0;
    return std::clamp<int64_t>(j - offset, 0, d.q_len);
  }
};

// s (mq, nk) with row stride ld = scale q k^T + bias, -inf where masked, for
// queries [i0, i0 + mq) and keys [j0, j0 + nk) of head (b, h). key_add is a
// scratch row of nk floats.
void block_scores(const Problem& p, int64_t b, int64_t h, int64_t i0, int64_t mq, int64_t j0,
                  int64_t nk, float* s, int64_t ld, float* key_add) {
  const AttentionDesc& d = p.d;
  const AttentionTensors<float>& t = p.t;
  const float* q = t.q + b * d.q.b + h * d.q.h + i0 * d.q.t;
  const float* k = t.k + b * d.k.b + h * d.k.h + j0 * d.k.t;
  gemm('N', 'T', mq, nk, d.head_dim, static_cast<float>(d.scale), q, d.q.t, k, d.k.t, 0.0f, s, ld);
  if (t.bias != nullptr) {
    const int64_t* bs = d.bias_strides;
    const float* bias = t.bias + b * bs[0] + h * bs[1] + i0 * bs[2] + j0 * bs[3];
    for (int64_t i = 0; i < mq; ++i) {
      float* row = s + i * ld;
      const float* bias_row = bias + i * bs[2];
      if (bs[3] == 1) {
        for (int64_t j = 0; j < nk; ++j) row[j] += bias_row[j];
      } else {
        for (int64_t j = 0; j < nk; ++j) row[j] += bias_row[j * bs[3]];
      }
    }
  }
  if (t.key_padding_mask != nullptr) {
    const bool* mask = t.key_padding_mask + b * d.mask_strides[0] + j0 * d.mask_strides[1];
    bool any_masked = false;
    for (int64_t j = 0; j < nk; ++j) {
      const bool attend = mask[j * d.mask_strides[1]];
      key_add[j] = attend ? 0.0f : kNegInf;
      any_masked |= !attend;
    }
    if (any_masked) {
      for (int64_t i = 0; i < mq; ++i) {
        float* row = s + i * ld;
        for (int64_t j = 0; j < nk; ++j) row[j] += key_add[j];
      }
    }
  }
  if (d.causal && j0 + nk - 1 > i0 + p.offset) {  // the block crosses the diagonal
    for (int64_t i = 0; i < mq; ++i) {
      const int64_t first_hidden = std::clamp<int64_t>(i0 + i + p.offset + 1 - j0, 0, nk);
      std::fill(s + i * ld + first_hidden, s + i * ld + nk, kNegInf);
    }
  }
}

// Calls f(task, thread scratch) for task in [0, n) across the OpenMP team.
// Scheduling is dynamic, but each task's result depends only on the task.
// The region always uses the whole team: dnnl_sgemm sees it is inside a
// parallel region and stays single-threaded (with one thread it is anyway).
template <class F>
void run_tasks(int64_t n, size_t scratch_floats, const F& f) {
  if (n <= 0) return;
#pragma omp parallel
  {
    std::vector<float> scratch(scratch_floats);
#pragma omp for schedule(dynamic, 1)
    for (int64_t task = 0; task < n; ++task) f(task, scratch.data());
  }
}

void forward(const Problem& p) {
  const AttentionDesc& d = p.d;
  const AttentionTensors<float>& t = p.t;
  const int64_t bq = kAttentionBlockQ, bk = kAttentionForwardBlockK;
  const int64_t heads = d.batch * d.heads, q_blocks = ceil_div(d.q_len, bq);
  const size_t scratch = static_cast<size_t>(bq * bk + bk + bq * d.value_dim + 3 * bq);
  run_tasks(heads * q_blocks, scratch, [&](int64_t task, float* buf) {
    // The last query blocks (most keys under a causal mask) are scheduled first.
    const int64_t qb = q_blocks - 1 - task / heads, bh = task % heads;
    const int64_t b = bh / d.heads, h = bh % d.heads;
    const int64_t i0 = qb * bq, mq = std::min(bq, d.q_len - i0);
    float* s = buf;
    float* key_add = s + bq * bk;
    float* acc = key_add + bk;  // (mq, Dv) unnormalised output
    float* m = acc + bq * d.value_dim;
    float* l = m + bq;
    float* alpha = l + bq;
    std::fill(acc, acc + mq * d.value_dim, 0.0f);
    std::fill(m, m + mq, kNegInf);
    std::fill(l, l + mq, 0.0f);
    const float* v = t.v + b * d.v.b + h * d.v.h;
    const int64_t key_end = p.key_end(i0, mq);
    for (int64_t j0 = 0; j0 < key_end; j0 += bk) {
      const int64_t nk = std::min(bk, key_end - j0);
      block_scores(p, b, h, i0, mq, j0, nk, s, bk, key_add);
      // Online softmax: rescale what rows hold so far to the new row max.
      p.steps.softmax(s, bk, mq, nk, m, l, alpha);
      for (int64_t i = 0; i < mq; ++i) {
        if (alpha[i] == 1.0f) continue;
        float* acc_row = acc + i * d.value_dim;
        for (int64_t c = 0; c < d.value_dim; ++c) acc_row[c] *= alpha[i];
      }
      gemm('N', 'N', mq, d.value_dim, nk, 1.0f, s, bk, v + j0 * d.v.t, d.v.t, 1.0f, acc,
           d.value_dim);
    }
    float* out = t.out + b * d.out.b + h * d.out.h + i0 * d.out.t;
    float* lse = t.lse + bh * d.q_len + i0;
    for (int64_t i = 0; i < mq; ++i) {
      float* out_row = out + i * d.out.t;
      const float* acc_row = acc + i * d.value_dim;
      if (l[i] == 0.0f) {  // no visible key
        std::fill(out_row, out_row + d.value_dim, 0.0f);
        lse[i] = kNegInf;
        continue;
      }
      const float inv = 1.0f / l[i];
      for (int64_t c = 0; c < d.value_dim; ++c) out_row[c] = acc_row[c] * inv;
      lse[i] = m[i] + std::log(l[i]);
    }
  });
}

// delta[i] = rowsum(dout * out) for rows [i0, i0 + mq) of head (b, h).
void block_deltas(const AttentionDesc& d, const AttentionTensors<float>& t, int64_t b, int64_t h,
                  int64_t i0, int64_t mq, float* delta) {
  const float* dout = t.dout + b * d.dout.b + h * d.dout.h + i0 * d.dout.t;
  const float* out = t.out + b * d.out.b + h * d.out.h + i0 * d.out.t;
  for (int64_t i = 0; i < mq; ++i) {
    delta[i] = row_dot(dout + i * d.dout.t, out + i * d.out.t, d.value_dim);
  }
}

// Pass over (b, h, query block): delta (B, H, Tq), dq and dbias.
void backward_queries(const Problem& p, float* delta) {
  const AttentionDesc& d = p.d;
  const AttentionTensors<float>& t = p.t;
  const int64_t bq = kAttentionBlockQ, bk = kAttentionBlockK;
  const int64_t heads = d.batch * d.heads, q_blocks = ceil_div(d.q_len, bq);
  const size_t scratch = static_cast<size_t>(2 * bq * bk + bk + bq * d.head_dim);
  run_tasks(heads * q_blocks, scratch, [&](int64_t task, float* buf) {
    const int64_t qb = q_blocks - 1 - task / heads, bh = task % heads;
    const int64_t b = bh / d.heads, h = bh % d.heads;
    const int64_t i0 = qb * bq, mq = std::min(bq, d.q_len - i0);
    float* s = buf;
    float* dp = s + bq * bk;
    float* key_add = dp + bq * bk;
    float* dq_acc = key_add + bk;  // (mq, Dh)
    std::fill(dq_acc, dq_acc + mq * d.head_dim, 0.0f);
    const float* k = t.k + b * d.k.b + h * d.k.h;
    const float* v = t.v + b * d.v.b + h * d.v.h;
    const float* dout = t.dout + b * d.dout.b + h * d.dout.h + i0 * d.dout.t;
    const float* lse = t.lse + bh * d.q_len + i0;
    float* di = delta + bh * d.q_len + i0;
    block_deltas(d, t, b, h, i0, mq, di);
    float* dbias = t.dbias != nullptr ? t.dbias + (bh * d.q_len + i0) * d.k_len : nullptr;
    // Whole key blocks (masking hides what the block's queries do not see),
    // so the tiles are those of key_block_grads.
    const int64_t key_end = p.key_end(i0, mq);
    for (int64_t j0 = 0; j0 < key_end; j0 += bk) {
      const int64_t nk = std::min(bk, d.k_len - j0);
      block_scores(p, b, h, i0, mq, j0, nk, s, bk, key_add);
      p.steps.probabilities(s, bk, mq, nk, lse);
      gemm('N', 'T', mq, nk, d.value_dim, 1.0f, dout, d.dout.t, v + j0 * d.v.t, d.v.t, 0.0f, dp,
           bk);
      p.steps.score_grad(s, dp, bk, mq, nk, di);
      if (dbias != nullptr) {
        for (int64_t i = 0; i < mq; ++i) {
          std::copy(dp + i * bk, dp + i * bk + nk, dbias + i * d.k_len + j0);
        }
      }
      if (t.dq != nullptr) {
        gemm('N', 'N', mq, d.head_dim, nk, static_cast<float>(d.scale), dp, bk, k + j0 * d.k.t,
             d.k.t, 1.0f, dq_acc, d.head_dim);
      }
    }
    const int64_t seen_end = std::min(ceil_div(key_end, bk) * bk, d.k_len);
    if (dbias != nullptr) {  // key blocks no query of the block sees
      for (int64_t i = 0; i < mq; ++i) {
        std::fill(dbias + i * d.k_len + seen_end, dbias + (i + 1) * d.k_len, 0.0f);
      }
    }
    if (t.dq != nullptr) {
      float* dq = t.dq + b * d.dq.b + h * d.dq.h + i0 * d.dq.t;
      for (int64_t i = 0; i < mq; ++i) {
        std::copy(dq_acc + i * d.head_dim, dq_acc + (i + 1) * d.head_dim, dq + i * d.dq.t);
      }
    }
  });
}

// Gradients from key block [j0, j0 + nk) of head (b, h): accumulates dk_acc
// (nk, Dh) and dv_acc (nk, Dv) over the query tiles that see the block, and
// with `with_dq` also adds the block's share to t.dq and writes its dbias
// tiles. Query tiles follow the kAttentionBlockQ grid, as in
// backward_queries, so both plans compute the same tiles. buf holds
// 2 kAttentionBlockQ kAttentionBlockK + kAttentionBlockK floats.
void key_block_grads(const Problem& p, int64_t b, int64_t h, int64_t j0, int64_t nk,
                     const float* delta, bool with_dq, float* dk_acc, float* dv_acc, float* buf) {
  const AttentionDesc& d = p.d;
  const AttentionTensors<float>& t = p.t;
  const int64_t bq = kAttentionBlockQ, bk = kAttentionBlockK, bh = b * d.heads + h;
  float* s = buf;
  float* dp = s + bq * bk;
  float* key_add = dp + bq * bk;
  std::fill(dk_acc, dk_acc + nk * d.head_dim, 0.0f);
  std::fill(dv_acc, dv_acc + nk * d.value_dim, 0.0f);
  const float* q = t.q + b * d.q.b + h * d.q.h;
  const float* k = t.k + b * d.k.b + h * d.k.h + j0 * d.k.t;
  const float* v = t.v + b * d.v.b + h * d.v.h + j0 * d.v.t;
  const float* dout = t.dout + b * d.dout.b + h * d.dout.h;
  const float* lse = t.lse + bh * d.q_len;
  const float* di = delta + bh * d.q_len;
  float* dq = with_dq && t.dq != nullptr ? t.dq + b * d.dq.b + h * d.dq.h : nullptr;
  float* dbias = with_dq && t.dbias != nullptr ? t.dbias + bh * d.q_len * d.k_len + j0 : nullptr;
  const bool need_ds = t.dk != nullptr || dq != nullptr || dbias != nullptr;
  const int64_t first = p.query_begin(j0);
  if (first >= d.q_len) return;  // no query sees the block
  for (int64_t i0 = first / bq * bq; i0 < d.q_len; i0 += bq) {
    const int64_t mq = std::min(bq, d.q_len - i0);
    block_scores(p, b, h, i0, mq, j0, nk, s, bk, key_add);
    p.steps.probabilities(s, bk, mq, nk, lse + i0);
    if (t.dv != nullptr) {
      gemm('T', 'N', nk, d.value_dim, mq, 1.0f, s, bk, dout + i0 * d.dout.t, d.dout.t, 1.0f, dv_acc,
           d.value_dim);
    }
    if (!need_ds) continue;
    gemm('N', 'T', mq, nk, d.value_dim, 1.0f, dout + i0 * d.dout.t, d.dout.t, v, d.v.t, 0.0f, dp,
         bk);
    p.steps.score_grad(s, dp, bk, mq, nk, di + i0);
    if (dbias != nullptr) {
      for (int64_t i = 0; i < mq; ++i) {
        std::copy(dp + i * bk, dp + i * bk + nk, dbias + (i0 + i) * d.k_len);
      }
    }
    if (dq != nullptr) {
      gemm('N', 'N', mq, d.head_dim, nk, static_cast<float>(d.scale), dp, bk, k, d.k.t, 1.0f,
           dq + i0 * d.dq.t, d.dq.t);
    }
    if (t.dk != nullptr) {
      gemm('T', 'N', nk, d.head_dim, mq, static_cast<float>(d.scale), dp, bk, q + i0 * d.q.t, d.q.t,
           1.0f, dk_acc, d.head_dim);
    }
  }
}

// Copies a key block's dk and dv accumulators to the outputs.
void write_key_grads(const Problem& p, int64_t b, int64_t h, int64_t j0, int64_t nk,
                     const float* dk_acc, const float* dv_acc) {
  const AttentionDesc& d = p.d;
  const AttentionTensors<float>& t = p.t;
  if (t.dk != nullptr) {
    float* dk = t.dk + b * d.dk.b + h * d.dk.h + j0 * d.dk.t;
    for (int64_t j = 0; j < nk; ++j) {
      std::copy(dk_acc + j * d.head_dim, dk_acc + (j + 1) * d.head_dim, dk + j * d.dk.t);
    }
  }
  if (t.dv != nullptr) {
    float* dv = t.dv + b * d.dv.b + h * d.dv.h + j0 * d.dv.t;
    for (int64_t j = 0; j < nk; ++j) {
      std::copy(dv_acc + j * d.value_dim, dv_acc + (j + 1) * d.value_dim, dv + j * d.dv.t);
    }
  }
}

size_t key_block_scratch(const AttentionDesc& d) {
  const int64_t bq = kAttentionBlockQ, bk = kAttentionBlockK;
  return static_cast<size_t>(2 * bq * bk + bk + bk * d.head_dim + bk * d.value_dim);
}

// Two-pass plan, second pass, over (b, h, key block): dk and dv.
void backward_keys(const Problem& p, const float* delta) {
  const AttentionDesc& d = p.d;
  const int64_t bk = kAttentionBlockK;
  const int64_t heads = d.batch * d.heads, k_blocks = ceil_div(d.k_len, bk);
  run_tasks(heads * k_blocks, key_block_scratch(d), [&](int64_t task, float* buf) {
    // The first key blocks (most queries under a causal mask) go first.
    const int64_t kb = task / heads, bh = task % heads;
    const int64_t b = bh / d.heads, h = bh % d.heads;
    const int64_t j0 = kb * bk, nk = std::min(bk, d.k_len - j0);
    float* dk_acc = buf;
    float* dv_acc = dk_acc + bk * d.head_dim;
    key_block_grads(p, b, h, j0, nk, delta, /*with_dq=*/false, dk_acc, dv_acc,
                    dv_acc + bk * d.value_dim);
    write_key_grads(p, b, h, j0, nk, dk_acc, dv_acc);
  });
}

// Per-head plan, over (b, h): delta, then every key block in order, adding
// to dq as it goes (one task owns the head's dq rows, so no races).
void backward_heads(const Problem& p, float* delta) {
  const AttentionDesc& d = p.d;
  const AttentionTensors<float>& t = p.t;
  const int64_t bk = kAttentionBlockK;
  run_tasks(d.batch * d.heads, key_block_scratch(d), [&](int64_t bh, float* buf) {
    const int64_t b = bh / d.heads, h = bh % d.heads;
    block_deltas(d, t, b, h, 0, d.q_len, delta + bh * d.q_len);
    if (t.dq != nullptr) {
      float* dq = t.dq + b * d.dq.b + h * d.dq.h;
      for (int64_t i = 0; i < d.q_len; ++i) {
        std::fill(dq + i * d.dq.t, dq + i * d.dq.t + d.head_dim, 0.0f);
      }
    }
    if (t.dbias != nullptr) {  // tiles no query sees stay zero
      float* dbias = t.dbias + bh * d.q_len * d.k_len;
      std::fill(dbias, dbias + d.q_len * d.k_len, 0.0f);
    }
    float* dk_acc = buf;
    float* dv_acc = dk_acc + bk * d.head_dim;
    for (int64_t j0 = 0; j0 < d.k_len; j0 += bk) {
      const int64_t nk = std::min(bk, d.k_len - j0);
      key_block_grads(p, b, h, j0, nk, delta, /*with_dq=*/true, dk_acc, dv_acc,
                      dv_acc + bk * d.value_dim);
      write_key_grads(p, b, h, j0, nk, dk_acc, dv_acc);
    }
  });
}

}  // namespace

void attention_forward_isa(Isa isa, const AttentionDesc& d, const AttentionTensors<float>& t) {
  forward(Problem{d, t, block_steps(isa), d.k_len - d.q_len});
}

void attention_backward_isa(Isa isa, const AttentionDesc& d, const AttentionTensors<float>& t,
                            AttentionBackwardPlan plan) {
  if (t.dq == nullptr && t.dk == nullptr && t.dv == nullptr && t.dbias == nullptr) return;
  const Problem p{d, t, block_steps(isa), d.k_len - d.q_len};
  std::vector<float> delta(static_cast<size_t>(d.batch * d.heads * d.q_len));
  if (plan == AttentionBackwardPlan::kAuto) {
    // Enough heads to keep every processor busy (the processor count, never
    // the thread count: results must not depend on the thread count).
    plan = d.batch * d.heads >= 4 * static_cast<int64_t>(omp_get_num_procs())
               ? AttentionBackwardPlan::kPerHead
               : AttentionBackwardPlan::kTwoPass;
  }
  if (plan == AttentionBackwardPlan::kPerHead) {
    backward_heads(p, delta.data());
    return;
  }
  // delta (B, H, Tq) = rowsum(dout * out), made by the first pass.
  if (t.dq != nullptr || t.dbias != nullptr) {
    backward_queries(p, delta.data());
  } else {
    run_tasks(d.batch * d.heads, 0, [&](int64_t bh, float*) {
      block_deltas(d, t, bh / d.heads, bh % d.heads, 0, d.q_len, delta.data() + bh * d.q_len);
    });
  }
  if (t.dk != nullptr || t.dv != nullptr) backward_keys(p, delta.data());
}

void attention_forward(const AttentionDesc& d, const AttentionTensors<float>& t) {
  attention_forward_isa(best_isa(), d, t);
}
void attention_backward(const AttentionDesc& d, const AttentionTensors<float>& t) {
  attention_backward_isa(best_isa(), d, t);
}
void attention_forward(const AttentionDesc& d, const AttentionTensors<double>& t) {
  ref::attention_forward(d, t);
}
void attention_backward(const AttentionDesc& d, const AttentionTensors<double>& t) {
  ref::attention_backward(d, t);
}

}  // namespace kiln::kernels
