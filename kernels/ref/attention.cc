// Reference attention: the full (Tq, Tk) score matrix of one (b, h) at a
// time, softmax by the textbook formula. Obviously correct, not fast.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/attention.h"
#include "kernels/parallel.h"

namespace kiln::kernels::ref {
namespace {

// Scores (Tq, Tk) of head (b, h), -inf where masked.
template <class T>
void scores(const AttentionDesc& d, const AttentionTensors<T>& t, int64_t b, int64_t h,
            std::vector<T>& s) {
  const T neg_inf = -std::numeric_limits<T>::infinity();
  const T* q = t.q + b * d.q.b + h * d.q.h;
  const T* k = t.k + b * d.k.b + h * d.k.h;
  for (int64_t i = 0; i < d.q_len; ++i) {
    for (int64_t j = 0; j < d.k_len; ++j) {
      T dot = 0;
      for (int64_t c = 0; c < d.head_dim; ++c) dot += q[i * d.q.t + c] * k[j * d.k.t + c];
      T x = static_cast<T>(d.scale) * dot;
      if (t.bias != nullptr) {
        x += t.bias[b * d.bias_strides[0] + h * d.bias_strides[1] + i * d.bias_strides[2] +
                    j * d.bias_strides[3]];
      }
      const bool visible_causal = !d.causal || j <= i + d.k_len - d.q_len;
      const bool visible_mask = t.key_padding_mask == nullptr ||
                                t.key_padding_mask[b * d.mask_strides[0] + j * d.mask_strides[1]];
      s[i * d.k_len + j] = visible_causal && visible_mask ? x : neg_inf;
    }
  }
}

// Turns scores into probabilities in place; returns each row's logsumexp.
template <class T>
void softmax_rows(const AttentionDesc& d, std::vector<T>& s, T* lse) {
  for (int64_t i = 0; i < d.q_len; ++i) {
    T* row = s.data() + i * d.k_len;
    T m = -std::numeric_limits<T>::infinity();
    for (int64_t j = 0; j < d.k_len; ++j) m = std::max(m, row[j]);
    if (m == -std::numeric_limits<T>::infinity()) {  // no visible key
      for (int64_t j = 0; j < d.k_len; ++j) row[j] = 0;
      lse[i] = m;
      continue;
    }
    T l = 0;
    for (int64_t j = 0; j < d.k_len; ++j) l += std::exp(row[j] - m);
    for (int64_t j = 0; j < d.k_len; ++j) row[j] = std::exp(row[j] - m) / l;
    lse[i] = m + std::log(l);
  }
}

// Heads per thread chunk: small problems run on one thread.
int64_t head_grain(const AttentionDesc& d) {
  const int64_t work = d.q_len * d.k_len * (d.head_dim + d.value_dim) + 1;
  return std::max<int64_t>(1, (int64_t{1} << 16) / work);
}

template <class T>
void forward_impl(const AttentionDesc& d, const AttentionTensors<T>& t) {
  parallel_for(d.batch * d.heads, head_grain(d), [&](int64_t begin, int64_t end) {
    std::vector<T> p(static_cast<size_t>(d.q_len * d.k_len));
    for (int64_t bh = begin; bh < end; ++bh) {
      const int64_t b = bh / d.heads, h = bh % d.heads;
      scores(d, t, b, h, p);
      softmax_rows(d, p, t.lse + bh * d.q_len);
      const T* v = t.v + b * d.v.b + h * d.v.h;
      T* out = t.out + b * d.out.b + h * d.out.h;
      for (int64_t i = 0; i < d.q_len; ++i) {
        for (int64_t c = 0; c < d.value_dim; ++c) {
          T acc = 0;
          for (int64_t j = 0; j < d.k_len; ++j) acc += p[i * d.k_len + j] * v[j * d.v.t + c];
          out[i * d.out.t + c] = acc;
        }
      }
    }
  });
}

// Recomputes the probabilities; ignores the saved out and lse.
template <class T>
void backward_impl(const AttentionDesc& d, const AttentionTensors<T>& t) {
  parallel_for(d.batch * d.heads, head_grain(d), [&](int64_t begin, int64_t end) {
    const size_t n = static_cast<size_t>(d.q_len * d.k_len);
    std::vector<T> p(n), ds(n), lse(static_cast<size_t>(d.q_len));
    for (int64_t bh = begin; bh < end; ++bh) {
      const int64_t b = bh / d.heads, h = bh % d.heads;
      scores(d, t, b, h, p);
      softmax_rows(d, p, lse.data());
      const T* q = t.q + b * d.q.b + h * d.q.h;
      const T* k = t.k + b * d.k.b + h * d.k.h;
      const T* v = t.v + b * d.v.b + h * d.v.h;
      const T* dout = t.dout + b * d.dout.b + h * d.dout.h;
      // dP = dout v^T, then the softmax backward dS = P (dP - sum_j P dP).
      for (int64_t i = 0; i < d.q_len; ++i) {
        T row_dot = 0;
        for (int64_t j = 0; j < d.k_len; ++j) {
          T dp = 0;
          for (int64_t c = 0; c < d.value_dim; ++c) dp += dout[i * d.dout.t + c] * v[j * d.v.t + c];
          ds[i * d.k_len + j] = dp;
          row_dot += p[i * d.k_len + j] * dp;
        }
        for (int64_t j = 0; j < d.k_len; ++j) {
          ds[i * d.k_len + j] = p[i * d.k_len + j] * (ds[i * d.k_len + j] - row_dot);
        }
      }
      if (t.dbias != nullptr) {
        T* dbias = t.dbias + bh * d.q_len * d.k_len;
        for (size_t e = 0; e < n; ++e) dbias[e] = ds[e];
      }
      const T scale = static_cast<T>(d.scale);
      if (t.dq != nullptr) {
        T* dq = t.dq + b * d.dq.b + h * d.dq.h;
        for (int64_t i = 0; i < d.q_len; ++i) {
          for (int64_t c = 0; c < d.head_dim; ++c) {
            T acc = 0;
            for (int64_t j = 0; j < d.k_len; ++j) acc += ds[i * d.k_len + j] * k[j * d.k.t + c];
            dq[i * d.dq.t + c] = scale * acc;
          }
        }
      }
      if (t.dk != nullptr) {
        T* dk = t.dk + b * d.dk.b + h * d.dk.h;
        for (int64_t j = 0; j < d.k_len; ++j) {
          for (int64_t c = 0; c < d.head_dim; ++c) {
            T acc = 0;
            for (int64_t i = 0; i < d.q_len; ++i) acc += ds[i * d.k_len + j] * q[i * d.q.t + c];
            dk[j * d.dk.t + c] = scale * acc;
          }
        }
      }
      if (t.dv != nullptr) {
        T* dv = t.dv + b * d.dv.b + h * d.dv.h;
        for (int64_t j = 0; j < d.k_len; ++j) {
          for (int64_t c = 0; c < d.value_dim; ++c) {
            T acc = 0;
            for (int64_t i = 0; i < d.q_len; ++i) {
              acc += p[i * d.k_len + j] * dout[i * d.dout.t + c];
            }
            dv[j * d.dv.t + c] = acc;
          }
        }
      }
    }
  });
}

}  // namespace

void attention_forward(const AttentionDesc& d, const AttentionTensors<float>& t) {
  forward_impl(d, t);
}
void attention_forward(const AttentionDesc& d, const AttentionTensors<double>& t) {
  forward_impl(d, t);
}
void attention_backward(const AttentionDesc& d, const AttentionTensors<float>& t) {
  backward_impl(d, t);
}
void attention_backward(const AttentionDesc& d, const AttentionTensors<double>& t) {
  backward_impl(d, t);
}

}  // namespace kiln::kernels::ref
