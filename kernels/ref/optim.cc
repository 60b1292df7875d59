// Reference optimizer kernels: scalar, written as the formulas in
// kernels/optim.h read, in T arithmetic (hyperparameters are rounded to T
// once, as a float32 framework would hold them).
#include "kernels/optim.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/parallel.h"

namespace kiln::kernels::ref {
namespace {

template <class T>
bool is_finite(T x) {
  return x - x == T(0);  // false for NaN and +-Inf
}

// Per fixed block of kReduceBlock elements: its sum of squares (summed in T,
// sequentially) and whether it is all finite; blocks merged in order.
template <class T>
SumSquares sum_squares_finite_impl(const T* x, int64_t n) {
  if (n <= 0) return SumSquares{0.0, true};
  const int64_t blocks = (n + kReduceBlock - 1) / kReduceBlock;
  std::vector<T> sums(static_cast<size_t>(blocks));
  std::vector<char> finite(static_cast<size_t>(blocks));
  parallel_for(blocks, 1, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      const int64_t lo = b * kReduceBlock, hi = std::min(n, lo + kReduceBlock);
      T acc = 0;
      bool ok = true;
      for (int64_t i = lo; i < hi; ++i) {
        acc += x[i] * x[i];
        ok = ok && is_finite(x[i]);
      }
      sums[b] = acc;
      finite[b] = ok;
    }
  });
  SumSquares out{0.0, true};
  for (int64_t b = 0; b < blocks; ++b) {
    out.sum_squares += static_cast<double>(sums[b]);
    out.finite = out.finite && finite[b];
  }
  return out;
}

template <class T>
bool agc_unit_scales_impl(const T* param_sq, const T* grad_sq, T* scale, int64_t cols,
                          double clipping, double eps) {
  const T clip = static_cast<T>(clipping), min_norm = static_cast<T>(eps);
  bool any = false;
  for (int64_t j = 0; j < cols; ++j) {
    const T max_norm = std::max(std::sqrt(param_sq[j]), min_norm) * clip;
    const T grad_norm = std::sqrt(grad_sq[j]);
    const bool trigger = grad_norm > max_norm;
    scale[j] = trigger ? max_norm / std::max(grad_norm, static_cast<T>(1e-6)) : T(1);
    any = any || trigger;
  }
  return any;
}

template <class T>
void agc_clip_impl(const T* param, T* grad, int64_t rows, int64_t cols, double clipping,
                   double eps) {
  if (rows * cols == 0) return;
  std::vector<T> param_sq(static_cast<size_t>(cols)), grad_sq(static_cast<size_t>(cols));
  // ref::reduce; the parentheses turn off argument-dependent lookup, which
  // would also find the dispatching kernels::reduce.
  (reduce)(ReduceOp::kSumSquares, param, param_sq.data(), 1, rows, cols);
  (reduce)(ReduceOp::kSumSquares, grad, grad_sq.data(), 1, rows, cols);
  std::vector<T> scale(static_cast<size_t>(cols));
  if (!agc_unit_scales(param_sq.data(), grad_sq.data(), scale.data(), cols, clipping, eps)) {
    return;
  }
  parallel_for(rows * cols, kElementwiseGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) grad[i] *= scale[i % cols];
  });
}

template <class T>
void sgd_update_impl(T* param, const T* grad, T* buf, int64_t n, const SgdHyper& h) {
  const T lr = static_cast<T>(h.lr), wd = static_cast<T>(h.weight_decay);
  const T mom = static_cast<T>(h.momentum), keep = static_cast<T>(1.0 - h.dampening);
  parallel_for(n, kElementwiseGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      T g = grad[i] + wd * param[i];
      if (buf != nullptr) {
        buf[i] = mom * buf[i] + keep * g;
        g = h.nesterov ? g + mom * buf[i] : buf[i];
      }
      param[i] -= lr * g;
    }
  });
}

template <class T>
void adam_update_impl(T* param, const T* grad, T* m, T* v, int64_t n, const AdamHyper& h) {
  const T b1 = static_cast<T>(h.beta1), b2 = static_cast<T>(h.beta2);
  const T one_b1 = static_cast<T>(1.0 - h.beta1), one_b2 = static_cast<T>(1.0 - h.beta2);
  const T eps = static_cast<T>(h.eps), wd = static_cast<T>(h.weight_decay);
  const T decay = static_cast<T>(1.0 - h.lr * h.weight_decay);
  const T step_size = static_cast<T>(h.lr / h.bias_correction1);
  const T bc2_sqrt = static_cast<T>(std::sqrt(h.bias_correction2));
  parallel_for(n, kElementwiseGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      T g = grad[i];
      T p = param[i];
      if (h.decoupled) {
        p *= decay;
      } else {
        g += wd * p;
      }
      m[i] = b1 * m[i] + one_b1 * g;
      v[i] = b2 * v[i] + one_b2 * g * g;
      const T denom = std::sqrt(v[i]) / bc2_sqrt + eps;
      param[i] = p - step_size * (m[i] / denom);
    }
  });
}

template <class T>
struct LambConsts {
  T b1, b2, one_b1, one_b2, eps, wd, bc1, bc2;
  explicit LambConsts(const LambHyper& h)
      : b1(static_cast<T>(h.beta1)),
        b2(static_cast<T>(h.beta2)),
        one_b1(static_cast<T>(1.0 - h.beta1)),
        one_b2(static_cast<T>(1.0 - h.beta2)),
        eps(static_cast<T>(h.eps)),
        wd(static_cast<T>(h.weight_decay)),
        bc1(static_cast<T>(h.bias_correction1)),
        bc2(static_cast<T>(h.bias_correction2)) {}
  // The update direction u from the new moments.
  T direction(T p, T m, T v) const { return (m / bc1) / (std::sqrt(v / bc2) + eps) + wd * p; }
};

template <class T>
double lamb_update_impl(T* param, const T* grad, T* m, T* v, int64_t n, const LambHyper& h) {
  const LambConsts<T> c(h);
  const int64_t blocks = (n + kReduceBlock - 1) / kReduceBlock;
  std::vector<T> param_sq(static_cast<size_t>(blocks)), dir_sq(static_cast<size_t>(blocks));
  parallel_for(blocks, 1, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      const int64_t lo = b * kReduceBlock, hi = std::min(n, lo + kReduceBlock);
      T acc_p = 0, acc_u = 0;
      for (int64_t i = lo; i < hi; ++i) {
        m[i] = c.b1 * m[i] + c.one_b1 * grad[i];
        v[i] = c.b2 * v[i] + c.one_b2 * grad[i] * grad[i];
        const T u = c.direction(param[i], m[i], v[i]);
        acc_p += param[i] * param[i];
        acc_u += u * u;
      }
      param_sq[b] = acc_p;
      dir_sq[b] = acc_u;
    }
  });
  double p2 = 0, u2 = 0;
  for (int64_t b = 0; b < blocks; ++b) {
    p2 += static_cast<double>(param_sq[b]);
    u2 += static_cast<double>(dir_sq[b]);
  }
  const double trust = (p2 > 0 && u2 > 0) ? std::sqrt(p2) / std::sqrt(u2) : 1.0;
  const T step = static_cast<T>(h.lr * trust);
  parallel_for(n, kElementwiseGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) param[i] -= step * c.direction(param[i], m[i], v[i]);
  });
  return trust;
}

template <class T>
void ema_update_impl(T* shadow, const T* value, int64_t n, double decay) {
  const T d = static_cast<T>(decay), one_d = static_cast<T>(1.0 - decay);
  parallel_for(n, kElementwiseGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) shadow[i] = shadow[i] * d + value[i] * one_d;
  });
}

}  // namespace

bool agc_unit_scales(const float* param_sq, const float* grad_sq, float* scale, int64_t cols,
                     double clipping, double eps) {
  return agc_unit_scales_impl(param_sq, grad_sq, scale, cols, clipping, eps);
}
bool agc_unit_scales(const double* param_sq, const double* grad_sq, double* scale, int64_t cols,
                     double clipping, double eps) {
  return agc_unit_scales_impl(param_sq, grad_sq, scale, cols, clipping, eps);
}

#define KILN_DEFINE_REF_OPTIM(T)                                                                 \
  SumSquares sum_squares_finite(const T* x, int64_t n) { return sum_squares_finite_impl(x, n); } \
  void agc_clip(const T* param, T* grad, int64_t rows, int64_t cols, double clipping,            \
                double eps) {                                                                    \
    agc_clip_impl(param, grad, rows, cols, clipping, eps);                                       \
  }                                                                                              \
  void sgd_update(T* param, const T* grad, T* momentum_buf, int64_t n, const SgdHyper& h) {      \
    sgd_update_impl(param, grad, momentum_buf, n, h);                                            \
  }                                                                                              \
  void adam_update(T* param, const T* grad, T* exp_avg, T* exp_avg_sq, int64_t n,                \
                   const AdamHyper& h) {                                                         \
    adam_update_impl(param, grad, exp_avg, exp_avg_sq, n, h);                                    \
  }                                                                                              \
  double lamb_update(T* param, const T* grad, T* exp_avg, T* exp_avg_sq, int64_t n,              \
                     const LambHyper& h) {                                                       \
    return lamb_update_impl(param, grad, exp_avg, exp_avg_sq, n, h);                             \
  }                                                                                              \
  void ema_update(T* shadow, const T* value, int64_t n, double decay) {                          \
    ema_update_impl(shadow, value, n, decay);                                                    \
  }

KILN_DEFINE_REF_OPTIM(float)
KILN_DEFINE_REF_OPTIM(double)

#undef KILN_DEFINE_REF_OPTIM

}  // namespace kiln::kernels::ref
