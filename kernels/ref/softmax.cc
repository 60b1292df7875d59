// Reference softmax and cross-entropy kernels: scalar, obviously correct,
// the oracle for the SIMD versions and the f64 path of gradient checks. Row
// sums are accumulated in double; every row is shifted by its max.
#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/parallel.h"
#include "kernels/softmax.h"

namespace kiln::kernels::ref {
namespace {

int64_t row_grain(int64_t n) {
  return std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(n, 1));
}

template <class T>
double row_max(const T* x, int64_t n) {
  double m = -std::numeric_limits<double>::infinity();
  for (int64_t j = 0; j < n; ++j) m = std::max<double>(m, x[j]);
  return m;
}

// log(sum_j exp(x_j - m)).
template <class T>
double log_sum_exp_shifted(const T* x, int64_t n, double m) {
  double s = 0;
  for (int64_t j = 0; j < n; ++j) s += std::exp(x[j] - m);
  return std::log(s);
}

template <class T>
void softmax_forward_impl(SoftmaxKind kind, const T* src, T* dst, int64_t rows, int64_t n) {
  parallel_for(rows, row_grain(n), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const T* x = src + r * n;
      T* y = dst + r * n;
      const double m = row_max(x, n);
      const double log_s = log_sum_exp_shifted(x, n, m);
      for (int64_t j = 0; j < n; ++j) {
        const double z = x[j] - m - log_s;
        y[j] = static_cast<T>(kind == SoftmaxKind::kLogSoftmax ? z : std::exp(z));
      }
    }
  });
}

template <class T>
void softmax_backward_impl(SoftmaxKind kind, const T* dst, const T* diff_dst, T* diff_src,
                           int64_t rows, int64_t n) {
  parallel_for(rows, row_grain(n), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const T* y = dst + r * n;
      const T* dy = diff_dst + r * n;
      T* dx = diff_src + r * n;
      double s = 0;
      if (kind == SoftmaxKind::kSoftmax) {
        for (int64_t j = 0; j < n; ++j) s += double(dy[j]) * y[j];
        for (int64_t j = 0; j < n; ++j) dx[j] = static_cast<T>(y[j] * (dy[j] - s));
      } else {
        for (int64_t j = 0; j < n; ++j) s += dy[j];
        for (int64_t j = 0; j < n; ++j) dx[j] = static_cast<T>(dy[j] - std::exp(double(y[j])) * s);
      }
    }
  });
}

// The smoothed target q_c of row r, and whether the row is ignored.
template <class T>
struct Target {
  const CrossEntropyDesc& desc;
  const int64_t* labels;
  const T* soft;

  bool ignored(int64_t r) const { return labels && labels[r] == desc.ignore_index; }
  double q(int64_t r, int64_t c) const {
    const double s = desc.label_smoothing;
    const double t = labels ? (labels[r] == c ? 1.0 : 0.0) : double(soft[r * desc.classes + c]);
    return (1 - s) * t + s / static_cast<double>(desc.classes);
  }
};

template <class T>
void cross_entropy_forward_impl(const CrossEntropyDesc& desc, const T* logits,
                                const int64_t* labels, const T* soft, T* loss, T* lse) {
  const int64_t n = desc.classes;
  const Target<T> target{desc, labels, soft};
  parallel_for(desc.rows, row_grain(n), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const T* x = logits + r * n;
      const double m = row_max(x, n);
      const double log_s = log_sum_exp_shifted(x, n, m);
      lse[r] = static_cast<T>(m + log_s);
      if (target.ignored(r)) {
        loss[r] = 0;
        continue;
      }
      // sum_c q_c (lse - x_c), skipping q_c = 0 so masked (-inf) logits
      // without target weight add nothing.
      double l = 0;
      for (int64_t c = 0; c < n; ++c) {
        const double q = target.q(r, c);
        if (q != 0) l += q * (log_s - (x[c] - m));
      }
      loss[r] = static_cast<T>(l);
    }
  });
}

template <class T>
void cross_entropy_backward_impl(const CrossEntropyDesc& desc, const T* logits,
                                 const int64_t* labels, const T* soft, const T* lse,
                                 const T* diff_loss, T* diff_logits) {
  const int64_t n = desc.classes;
  const Target<T> target{desc, labels, soft};
  parallel_for(desc.rows, row_grain(n), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const T* x = logits + r * n;
      T* dx = diff_logits + r * n;
      if (target.ignored(r)) {
        std::fill(dx, dx + n, T(0));
        continue;
      }
      double total = 0;  // Q
      for (int64_t c = 0; c < n; ++c) total += target.q(r, c);
      const double g = diff_loss[r];
      for (int64_t c = 0; c < n; ++c) {
        const double p = std::exp(double(x[c]) - double(lse[r]));
        dx[c] = static_cast<T>(g * (total * p - target.q(r, c)));
      }
    }
  });
}

}  // namespace

#define KILN_DEFINE_REF_SOFTMAX(T)                                                                 \
  void softmax_forward(SoftmaxKind kind, const T* src, T* dst, int64_t rows, int64_t n) {          \
    softmax_forward_impl(kind, src, dst, rows, n);                                                 \
  }                                                                                                \
  void softmax_backward(SoftmaxKind kind, const T* dst, const T* diff_dst, T* diff_src,            \
                        int64_t rows, int64_t n) {                                                 \
    softmax_backward_impl(kind, dst, diff_dst, diff_src, rows, n);                                 \
  }                                                                                                \
  void cross_entropy_forward(const CrossEntropyDesc& desc, const T* logits, const int64_t* labels, \
                             const T* soft, T* loss, T* lse) {                                     \
    cross_entropy_forward_impl(desc, logits, labels, soft, loss, lse);                             \
  }                                                                                                \
  void cross_entropy_backward(const CrossEntropyDesc& desc, const T* logits,                       \
                              const int64_t* labels, const T* soft, const T* lse,                  \
                              const T* diff_loss, T* diff_logits) {                                \
    cross_entropy_backward_impl(desc, logits, labels, soft, lse, diff_loss, diff_logits);          \
  }

KILN_DEFINE_REF_SOFTMAX(float)
KILN_DEFINE_REF_SOFTMAX(double)

#undef KILN_DEFINE_REF_SOFTMAX

}  // namespace kiln::kernels::ref
