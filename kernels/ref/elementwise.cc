// Reference elementwise kernels: scalar, obviously correct, the oracle for
// the SIMD versions and the f64 path of gradient checks.
#include <algorithm>
#include <cmath>

#include "kernels/elementwise.h"
#include "kernels/parallel.h"

namespace kiln::kernels::ref {
namespace {

constexpr double kSqrt2OverPi = 0.79788456080286535588;  // sqrt(2 / pi)
constexpr double kGeluCubic = 0.044715;
constexpr double kInvSqrt2 = 0.70710678118654752440;
constexpr double kInvSqrt2Pi = 0.39894228040143267794;  // 1 / sqrt(2 pi)

template <class T>
T sigmoid(T x) {
  return T(1) / (T(1) + std::exp(-x));
}

// u in gelu_tanh(x) = x (1 + tanh(u)) / 2.
template <class T>
T gelu_tanh_inner(T x) {
  return T(kSqrt2OverPi) * (x + T(kGeluCubic) * x * x * x);
}

template <class T>
T softplus(T x, double beta, double threshold) {
  const T bx = x * T(beta);
  if (bx > T(threshold)) return x;
  return std::log1p(std::exp(bx)) / T(beta);
}

template <class T>
T forward_one(UnaryOp op, T x, UnaryParams p) {
  switch (op) {
    case UnaryOp::kNeg:
      return -x;
    case UnaryOp::kAbs:
      return std::abs(x);
    case UnaryOp::kExp:
      return std::exp(x);
    case UnaryOp::kLog:
      return std::log(x);
    case UnaryOp::kSqrt:
      return std::sqrt(x);
    case UnaryOp::kRsqrt:
      return T(1) / std::sqrt(x);
    case UnaryOp::kSquare:
      return x * x;
    case UnaryOp::kPow:
      return std::pow(x, T(p.alpha));
    case UnaryOp::kTanh:
      return std::tanh(x);
    case UnaryOp::kSigmoid:
      return sigmoid(x);
    case UnaryOp::kRelu:
      return x > T(0) ? x : T(0);
    case UnaryOp::kLeakyRelu:
      return x > T(0) ? x : x * T(p.alpha);
    case UnaryOp::kGeluTanh:  // x (1 + tanh(u)) / 2 = x sigmoid(2u), no cancellation for u << 0
      return x / (T(1) + std::exp(T(-2) * gelu_tanh_inner(x)));
    case UnaryOp::kGeluErf:  // x (1 + erf(x / sqrt 2)) / 2, no cancellation for x << 0
      return T(0.5) * x * std::erfc(-x * T(kInvSqrt2));
    case UnaryOp::kSilu:
      return x * sigmoid(x);
    case UnaryOp::kSoftplus:
      return softplus(x, p.alpha, p.beta);
    case UnaryOp::kClamp:
      return std::min(std::max(x, T(p.alpha)), T(p.beta));
    case UnaryOp::kAddScalar:
      return x + T(p.alpha);
    case UnaryOp::kMulScalar:
      return x * T(p.alpha);
  }
  return x;
}

// d op / dx at x (with y = op(x) where that is cheaper).
template <class T>
T derivative_one(UnaryOp op, T x, T y, UnaryParams p) {
  switch (op) {
    case UnaryOp::kNeg:
      return T(-1);
    case UnaryOp::kAbs:
      return x > T(0) ? T(1) : (x < T(0) ? T(-1) : T(0));
    case UnaryOp::kExp:
      return y;
    case UnaryOp::kLog:
      return T(1) / x;
    case UnaryOp::kSqrt:
      return T(0.5) / y;
    case UnaryOp::kRsqrt:
      return T(-0.5) * y * y * y;
    case UnaryOp::kSquare:
      return T(2) * x;
    case UnaryOp::kPow:
      return T(p.alpha) * std::pow(x, T(p.alpha - 1));
    case UnaryOp::kTanh:
      return T(1) - y * y;
    case UnaryOp::kSigmoid:
      return y * (T(1) - y);
    case UnaryOp::kRelu:
      return x > T(0) ? T(1) : T(0);
    case UnaryOp::kLeakyRelu:
      return x > T(0) ? T(1) : T(p.alpha);
    case UnaryOp::kGeluTanh: {
      // With t = tanh(u): (1 + t) / 2 = s = sigmoid(2u), (1 - t^2) / 2 = 2 s (1 - s).
      const T u = gelu_tanh_inner(x);
      const T s = T(1) / (T(1) + std::exp(T(-2) * u));
      const T c = T(1) / (T(1) + std::exp(T(2) * u));  // 1 - s
      const T du = T(kSqrt2OverPi) * (T(1) + T(3 * kGeluCubic) * x * x);
      return s + T(2) * x * s * c * du;
    }
    case UnaryOp::kGeluErf: {
      const T cdf = T(0.5) * std::erfc(-x * T(kInvSqrt2));
      const T pdf = T(kInvSqrt2Pi) * std::exp(T(-0.5) * x * x);
      return cdf + x * pdf;
    }
    case UnaryOp::kSilu: {
      const T s = sigmoid(x);
      return s * (T(1) + x * (T(1) - s));
    }
    case UnaryOp::kSoftplus: {
      const T bx = x * T(p.alpha);
      return bx > T(p.beta) ? T(1) : sigmoid(bx);
    }
    case UnaryOp::kClamp:
      return (x >= T(p.alpha) && x <= T(p.beta)) ? T(1) : T(0);
    case UnaryOp::kAddScalar:
      return T(1);
    case UnaryOp::kMulScalar:
      return T(p.alpha);
  }
  return T(0);
}

template <class T>
void unary_forward_impl(UnaryOp op, const T* src, T* dst, int64_t n, UnaryParams p) {
  parallel_for(n, kElementwiseGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) dst[i] = forward_one(op, src[i], p);
  });
}

template <class T>
void unary_backward_impl(UnaryOp op, const T* src, const T* dst, const T* diff_dst, T* diff_src,
                         int64_t n, UnaryParams p) {
  parallel_for(n, kElementwiseGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      diff_src[i] = diff_dst[i] * derivative_one(op, src[i], dst[i], p);
    }
  });
}

template <class T>
T binary_one(BinaryOp op, T a, T b) {
  switch (op) {
    case BinaryOp::kAdd:
      return a + b;
    case BinaryOp::kSub:
      return a - b;
    case BinaryOp::kMul:
      return a * b;
    case BinaryOp::kDiv:
      return a / b;
    case BinaryOp::kMax:
      return std::max(a, b);
    case BinaryOp::kMin:
      return std::min(a, b);
  }
  return a;
}

template <class T>
void binary_forward_impl(BinaryOp op, const BroadcastDesc& d, const T* a, const T* b, T* dst) {
  const int inner_dim = d.rank - 1;
  const int64_t inner = d.rank == 0 ? 1 : d.shape[inner_dim];
  const int64_t rows = inner == 0 ? 0 : broadcast_numel(d) / inner;
  const int64_t sa = d.rank == 0 ? 0 : d.a_strides[inner_dim];
  const int64_t sb = d.rank == 0 ? 0 : d.b_strides[inner_dim];
  parallel_for(rows, std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(inner, 1)),
               [&](int64_t begin, int64_t end) {
                 for (int64_t row = begin; row < end; ++row) {
                   int64_t oa = 0, ob = 0;
                   broadcast_row_offsets(d, row, &oa, &ob);
                   T* out = dst + row * inner;
                   for (int64_t i = 0; i < inner; ++i) {
                     out[i] = binary_one(op, a[oa + i * sa], b[ob + i * sb]);
                   }
                 }
               });
}

}  // namespace

void unary_forward(UnaryOp op, const float* src, float* dst, int64_t n, UnaryParams params) {
  unary_forward_impl(op, src, dst, n, params);
}
void unary_forward(UnaryOp op, const double* src, double* dst, int64_t n, UnaryParams params) {
  unary_forward_impl(op, src, dst, n, params);
}
void unary_backward(UnaryOp op, const float* src, const float* dst, const float* diff_dst,
                    float* diff_src, int64_t n, UnaryParams params) {
  unary_backward_impl(op, src, dst, diff_dst, diff_src, n, params);
}
void unary_backward(UnaryOp op, const double* src, const double* dst, const double* diff_dst,
                    double* diff_src, int64_t n, UnaryParams params) {
  unary_backward_impl(op, src, dst, diff_dst, diff_src, n, params);
}
void binary_forward(BinaryOp op, const BroadcastDesc& desc, const float* a, const float* b,
                    float* dst) {
  binary_forward_impl(op, desc, a, b, dst);
}
void binary_forward(BinaryOp op, const BroadcastDesc& desc, const double* a, const double* b,
                    double* dst) {
  binary_forward_impl(op, desc, a, b, dst);
}

}  // namespace kiln::kernels::ref
