// Every SIMD ISA of this CPU against the reference elementwise kernels: every
// unary op forward and backward, every binary op over broadcast patterns,
// sizes with vector tails, and special values.
//
// Tolerances, per op (eps = 2^-23, ulp(w) = spacing of floats at w):
// - exact: the same bits as the f32 reference (the SIMD kernel computes the
//   same IEEE operations): neg, abs, sqrt, rsqrt, square, relu, leaky_relu,
//   clamp, add_scalar, mul_scalar forward; all of those plus exp, log and
//   sigmoid backward (which read y or x the same way); every binary op.
// - otherwise the same bits as the f32 reference (where both overflow alike,
//   say), or close to the f64 reference on the same f32 inputs (x, and y for
//   the ops whose derivative reads y):
//     |got - want| <= ulps * ulp(want) + cond * eps * |x f'(x)| + 2^-140
//   The cond term is the error the f32 rounding of intermediate values
//   (u = sqrt(2/pi)(x + 0.044715 x^3), beta x) costs anyway (for backward,
//   f' is the derivative of the backward function); 2^-140 admits results
//   below FLT_MIN, which carry fewer bits. NaN must give NaN and infinities
//   must match. Worst cases measured over 2M random inputs, in ulps (or in
//   units of ulp + eps |x f'|): forward exp 1.0, log 0.8, tanh 1.5, sigmoid
//   2.7, silu 1.7, softplus 2.8, gelu_tanh 2.6, gelu_erf 3.5, pow <= 5.3
//   (x^-1.5); backward pow 5.2, gelu_tanh 4.7 (the two terms of
//   s + 2 x s (1 - s) u' cancel near x = -0.75), gelu_erf 2.6, silu 4.6,
//   softplus 2.5.
#include <gtest/gtest.h>
// Read before the target pragmas at the end (so each intrinsic keeps its own
// target only); GCC 12 warns inside its AVX-512 headers (bug 105593).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <algorithm>
#include <bit>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "kernels/elementwise.h"

namespace kiln::kernels {
namespace {

constexpr int64_t kSizes[] = {0, 1, 7, 8, 9, 15, 16, 17, 31, 33, 100, 1000, 100003};

std::vector<Isa> simd_isas() {
  std::vector<Isa> isas;
  for (Isa isa : available_isas()) {
    if (isa != Isa::kRef) isas.push_back(isa);
  }
  return isas;
}

struct Tolerance {
  bool exact = false;  // same bits as the f32 reference
  double ulps = 0;
  double cond = 0;
};
constexpr Tolerance kExact{true, 0, 0};

struct OpCase {
  const char* name;
  UnaryOp op;
  UnaryParams params;
  bool positive;  // inputs mostly in the op's domain (x > 0)
  Tolerance forward;
  Tolerance backward;
};

Tolerance ulps(double u, double cond = 0) { return {false, u, cond}; }

std::vector<OpCase> op_cases() {
  std::vector<OpCase> cases = {
      {"neg", UnaryOp::kNeg, {}, false, kExact, kExact},
      {"abs", UnaryOp::kAbs, {}, false, kExact, kExact},
      {"exp", UnaryOp::kExp, {}, false, ulps(2), kExact},
      {"log", UnaryOp::kLog, {}, true, ulps(2), kExact},
      {"sqrt", UnaryOp::kSqrt, {}, true, kExact, kExact},
      {"rsqrt", UnaryOp::kRsqrt, {}, true, kExact, kExact},
      {"square", UnaryOp::kSquare, {}, false, kExact, kExact},
      {"tanh", UnaryOp::kTanh, {}, false, ulps(2), ulps(2)},
      {"sigmoid", UnaryOp::kSigmoid, {}, false, ulps(4), kExact},
      {"relu", UnaryOp::kRelu, {}, false, kExact, kExact},
      {"leaky_relu", UnaryOp::kLeakyRelu, {.alpha = 0.01}, false, kExact, kExact},
      {"gelu_tanh", UnaryOp::kGeluTanh, {}, false, ulps(4, 4), ulps(8, 8)},
      {"gelu_erf", UnaryOp::kGeluErf, {}, false, ulps(6, 6), ulps(8, 8)},
      {"silu", UnaryOp::kSilu, {}, false, ulps(4, 4), ulps(8, 8)},
      {"softplus_b1", UnaryOp::kSoftplus, {.alpha = 1, .beta = 20}, false, ulps(4, 2), ulps(4, 2)},
      {"softplus_b2", UnaryOp::kSoftplus, {.alpha = 2, .beta = 10}, false, ulps(4, 2), ulps(4, 2)},
      {"clamp", UnaryOp::kClamp, {.alpha = -1.5, .beta = 2.25}, false, kExact, kExact},
      {"add_scalar", UnaryOp::kAddScalar, {.alpha = 0.3}, false, kExact, kExact},
      {"mul_scalar", UnaryOp::kMulScalar, {.alpha = -1.7}, false, kExact, kExact},
  };
  // Exponents with a vector form, and others (2.75, -3, 0.25) through powf.
  // All are floats, so the f64 reference raises to the same exponent.
  for (double e : {0.0, 1.0, 2.0, 3.0, 0.5, -0.5, -1.0, -2.0, 1.5, -1.5, 2.75, -3.0, 0.25}) {
    cases.push_back({"pow", UnaryOp::kPow, {.alpha = e}, true, ulps(8), ulps(8)});
  }
  return cases;
}

std::string case_name(const OpCase& c, Isa isa) {
  std::string name = std::string(c.name) + " [" + isa_name(isa) + "]";
  if (c.op == UnaryOp::kPow) name += " alpha=" + std::to_string(c.params.alpha);
  return name;
}

// A mix of scales: moderate values, magnitudes 1e-8 .. 1e4, and the range
// where exp overflows or underflows.
std::vector<float> random_inputs(int64_t n, bool positive, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> moderate(-12.0f, 12.0f);
  std::uniform_real_distribution<float> decades(-8.0f, 4.0f);
  std::uniform_real_distribution<float> wide(-110.0f, 95.0f);
  std::vector<float> x(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    float v = 0;
    switch (i % 3) {
      case 0:
        v = moderate(rng);
        break;
      case 1:
        v = std::pow(10.0f, decades(rng)) * ((rng() & 1) ? 1.0f : -1.0f);
        break;
      default:
        v = wide(rng);
    }
    // A few negatives stay: outside the domain both sides must give NaN.
    if (positive && i % 10 != 3) v = std::fabs(v);
    x[static_cast<size_t>(i)] = v;
  }
  return x;
}

std::vector<float> special_inputs() {
  const float inf = INFINITY;
  std::vector<float> x = {
      0.0f,    -0.0f,   inf,      -inf,   NAN,     -NAN,    FLT_TRUE_MIN, -FLT_TRUE_MIN, 1e-40f,
      -1e-40f, FLT_MIN, -FLT_MIN, 1e-30f, -1e-30f, 1e-7f,   -1e-7f,       0.5f,          -0.5f,
      0.625f,  -0.625f, 1.0f,     -1.0f,  2.0f,    -2.0f,   10.0f,        -10.0f,        20.0f,
      -20.0f,  30.0f,   -30.0f,   50.0f,  -50.0f,  87.0f,   88.5f,        88.72f,        88.73f,
      89.0f,   90.0f,   -87.0f,   -88.0f, -100.0f, -103.0f, -104.0f,      -105.0f,       -150.0f,
      1e10f,   -1e10f,  1e20f,    -1e20f, 1e30f,   -1e30f,  FLT_MAX,      -FLT_MAX,      0.3f,
      -1.5f,   2.25f,   -2.25f,   1.5f};
  return x;
}

bool same_bits(float a, float b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return std::bit_cast<uint32_t>(a) == std::bit_cast<uint32_t>(b);
}

double ulp_of(double w) {
  w = std::fabs(w);
  if (!(w >= FLT_MIN)) return std::ldexp(1.0, -149);
  int e = 0;
  std::frexp(w, &e);
  return std::ldexp(1.0, e - 24);
}

// |got - want| within the tolerance; `cond` is |x f'(x)| (0 if unknown).
bool within(float got, double want, const Tolerance& tol, double cond) {
  if (std::isnan(want)) return std::isnan(got);
  if (std::isnan(got)) return false;
  const double w = want;
  if (std::isinf(static_cast<float>(w)) && std::isinf(got)) return (got > 0) == (w > 0);
  const double g = std::isinf(got) ? std::copysign(std::ldexp(1.0, 128), got) : double{got};
  if (!std::isfinite(cond)) cond = 0;
  const double bound = tol.ulps * ulp_of(w) + tol.cond * FLT_EPSILON * cond + std::ldexp(1.0, -140);
  return std::fabs(g - w) <= bound;
}

std::vector<double> widen(const std::vector<float>& v) { return {v.begin(), v.end()}; }

// Compares got with the f32 reference (exact) or the f64 reference.
void expect_match(const std::string& what, const std::vector<float>& x,
                  const std::vector<float>& got, const std::vector<float>& ref32,
                  const std::vector<double>& ref64, const std::vector<double>& cond,
                  const Tolerance& tol) {
  int failures = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const bool ok =
        same_bits(got[i], ref32[i]) || (!tol.exact && within(got[i], ref64[i], tol, cond[i]));
    if (!ok && ++failures <= 5) {
      ADD_FAILURE() << what << " at i=" << i << " x=" << x[i] << ": got " << got[i] << ", ref f32 "
                    << ref32[i] << ", ref f64 " << ref64[i];
    }
  }
  EXPECT_EQ(failures, 0) << what;
}

// |dy x f''(x)| by central differences of the f64 derivative.
void backward_cond(const OpCase& c, const std::vector<double>& xd, const std::vector<double>& dyd,
                   std::vector<double>& cond) {
  const int64_t n = static_cast<int64_t>(xd.size());
  const std::vector<double> ones(xd.size(), 1.0);
  constexpr double kStep = 1e-6;
  std::vector<double> xp(xd.size()), xm(xd.size()), yp(xd.size()), ym(xd.size()), gp(xd.size()),
      gm(xd.size());
  for (size_t i = 0; i < xd.size(); ++i) {
    xp[i] = xd[i] * (1 + kStep);
    xm[i] = xd[i] * (1 - kStep);
  }
  ref::unary_forward(c.op, xp.data(), yp.data(), n, c.params);
  ref::unary_forward(c.op, xm.data(), ym.data(), n, c.params);
  ref::unary_backward(c.op, xp.data(), yp.data(), ones.data(), gp.data(), n, c.params);
  ref::unary_backward(c.op, xm.data(), ym.data(), ones.data(), gm.data(), n, c.params);
  for (size_t i = 0; i < xd.size(); ++i) {
    cond[i] = std::fabs(dyd[i] * (gp[i] - gm[i]) / (2 * kStep));
  }
}

// Forward and backward of one op case on inputs x, for one ISA.
void check_op(const OpCase& c, Isa isa, const std::vector<float>& x, uint32_t seed) {
  const int64_t n = static_cast<int64_t>(x.size());
  const std::string name = case_name(c, isa) + " n=" + std::to_string(n);
  const std::vector<double> xd = widen(x);
  const std::vector<double> ones(x.size(), 1.0);

  // Forward.
  std::vector<float> y(x.size()), y32(x.size());
  std::vector<double> y64(x.size()), dy64dx(x.size()), cond(x.size());
  unary_forward_isa(isa, c.op, x.data(), y.data(), n, c.params);
  ref::unary_forward(c.op, x.data(), y32.data(), n, c.params);
  ref::unary_forward(c.op, xd.data(), y64.data(), n, c.params);
  if (c.forward.cond > 0) {
    ref::unary_backward(c.op, xd.data(), y64.data(), ones.data(), dy64dx.data(), n, c.params);
    for (size_t i = 0; i < x.size(); ++i) cond[i] = std::fabs(xd[i] * dy64dx[i]);
  }
  expect_match(name + " forward", x, y, y32, y64, cond, c.forward);

  // Backward, with y from the f32 reference for the ops that read it (the f64
  // reference reads the same y, widened).
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-2.0f, 2.0f);
  std::vector<float> dy(x.size());
  for (float& v : dy) v = dist(rng);
  const std::vector<double> dyd = widen(dy);
  std::vector<float> dx(x.size()), dx32(x.size());
  std::vector<double> dx64(x.size());
  unary_backward_isa(isa, c.op, x.data(), y32.data(), dy.data(), dx.data(), n, c.params);
  ref::unary_backward(c.op, x.data(), y32.data(), dy.data(), dx32.data(), n, c.params);
  const std::vector<double> y32d = widen(y32);
  ref::unary_backward(c.op, xd.data(), y32d.data(), dyd.data(), dx64.data(), n, c.params);
  std::fill(cond.begin(), cond.end(), 0.0);
  if (c.backward.cond > 0) backward_cond(c, xd, dyd, cond);
  expect_match(name + " backward", x, dx, dx32, dx64, cond, c.backward);
}

TEST(ElementwiseKernels, EveryUnaryOpHasACase) {
  const std::vector<OpCase> cases = op_cases();
  for (int op = 0; op <= static_cast<int>(UnaryOp::kMulScalar); ++op) {
    bool found = false;
    for (const OpCase& c : cases) found = found || static_cast<int>(c.op) == op;
    EXPECT_TRUE(found) << "UnaryOp " << op << " has no test case";
  }
}

TEST(ElementwiseKernels, UnaryMatchesReferenceOverSizes) {
  if (simd_isas().empty()) GTEST_SKIP() << "no SIMD ISA on this CPU";
  uint32_t seed = 1;
  for (Isa isa : simd_isas()) {
    for (const OpCase& c : op_cases()) {
      for (int64_t n : kSizes) {
        check_op(c, isa, random_inputs(n, c.positive, seed), seed);
        ++seed;
      }
    }
  }
}

TEST(ElementwiseKernels, UnaryMatchesReferenceOnSpecialValues) {
  if (simd_isas().empty()) GTEST_SKIP() << "no SIMD ISA on this CPU";
  // Also sorted, so that a vector holds values of one sign and similar size:
  // kernels that test a whole vector before a fast path (gelu) must get each
  // extreme right without a neighbour sending the vector down the slow path.
  std::vector<float> sorted = special_inputs();
  const auto numbers_end =
      std::stable_partition(sorted.begin(), sorted.end(), [](float v) { return !std::isnan(v); });
  std::sort(sorted.begin(), numbers_end);
  for (Isa isa : simd_isas()) {
    for (const OpCase& c : op_cases()) {
      check_op(c, isa, special_inputs(), 7);
      check_op(c, isa, sorted, 7);
    }
  }
}

// The dense ranges where the math functions switch between approximations.
TEST(ElementwiseKernels, UnaryMatchesReferenceOnDenseRanges) {
  if (simd_isas().empty()) GTEST_SKIP() << "no SIMD ISA on this CPU";
  std::vector<float> x;
  for (float v = -12.0f; v <= 12.0f; v += 1.0f / 256) x.push_back(v);
  for (float v = 0.999f; v <= 1.001f; v = std::nextafter(v, 2.0f)) x.push_back(v);  // log
  for (Isa isa : simd_isas()) {
    for (const OpCase& c : op_cases()) check_op(c, isa, x, 11);
  }
}

TEST(ElementwiseKernels, UnaryInPlace) {
  for (Isa isa : simd_isas()) {
    const std::vector<float> x = random_inputs(1000, false, 3);
    std::vector<float> expected(x.size());
    unary_forward_isa(isa, UnaryOp::kGeluTanh, x.data(), expected.data(), 1000, {});
    std::vector<float> inplace = x;
    unary_forward_isa(isa, UnaryOp::kGeluTanh, inplace.data(), inplace.data(), 1000, {});
    for (size_t i = 0; i < x.size(); ++i) ASSERT_TRUE(same_bits(inplace[i], expected[i])) << i;
  }
}

TEST(ElementwiseKernels, NoWritesPastTheEnd) {
  for (Isa isa : simd_isas()) {
    for (int64_t n : kSizes) {
      const std::vector<float> x = random_inputs(n + 16, false, 5);
      std::vector<float> out(x.size(), 7.0f);
      unary_forward_isa(isa, UnaryOp::kExp, x.data(), out.data(), n, {});
      unary_backward_isa(isa, UnaryOp::kSilu, x.data(), x.data(), x.data(), out.data(), n, {});
      BroadcastDesc d;
      d.rank = 1;
      d.shape[0] = n;
      d.a_strides[0] = 1;
      binary_forward_isa(isa, BinaryOp::kAdd, d, x.data(), x.data(), out.data());
      for (size_t i = static_cast<size_t>(n); i < out.size(); ++i) {
        ASSERT_EQ(out[i], 7.0f) << isa_name(isa) << " n=" << n;
      }
    }
  }
}

// Binary ops: every broadcast pattern, bit-exact against the reference.
struct Pattern {
  const char* name;
  BroadcastDesc desc;
  int64_t a_size;
  int64_t b_size;
};

BroadcastDesc make_desc(std::vector<int64_t> shape, std::vector<int64_t> sa,
                        std::vector<int64_t> sb) {
  BroadcastDesc d;
  d.rank = static_cast<int>(shape.size());
  for (int i = 0; i < d.rank; ++i) {
    d.shape[i] = shape[static_cast<size_t>(i)];
    d.a_strides[i] = sa[static_cast<size_t>(i)];
    d.b_strides[i] = sb[static_cast<size_t>(i)];
  }
  return d;
}

std::vector<Pattern> patterns(int64_t n) {
  return {
      {"contiguous", make_desc({n}, {1}, {1}), n, n},
      {"row", make_desc({3, n}, {n, 1}, {0, 1}), 3 * n, n},
      {"column", make_desc({3, n}, {n, 1}, {1, 0}), 3 * n, 3},
      {"scalar_b", make_desc({n}, {1}, {0}), n, 1},
      {"scalar_a", make_desc({n}, {0}, {1}), 1, n},
      {"strided", make_desc({3, n}, {1, 3}, {2 * n, 2}), 3 * n, 6 * n},
      {"both_inner_broadcast", make_desc({3, n}, {1, 0}, {0, 0}), 3, 1},
      {"rank3", make_desc({2, 3, n}, {3 * n, n, 1}, {0, 1, 0}), 6 * n, 3},
      {"rank0", make_desc({}, {}, {}), 1, 1},
  };
}

std::vector<float> binary_inputs(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-4.0f, 4.0f);
  const float specials[] = {NAN, 0.0f, -0.0f, INFINITY, -INFINITY, 1e-40f};
  std::vector<float> v(static_cast<size_t>(n > 0 ? n : 1));
  for (size_t i = 0; i < v.size(); ++i) v[i] = i % 11 == 5 ? specials[(i / 11) % 6] : dist(rng);
  return v;
}

TEST(ElementwiseKernels, BinaryMatchesReferenceOverBroadcastPatterns) {
  if (simd_isas().empty()) GTEST_SKIP() << "no SIMD ISA on this CPU";
  const BinaryOp ops[] = {BinaryOp::kAdd, BinaryOp::kSub, BinaryOp::kMul,
                          BinaryOp::kDiv, BinaryOp::kMax, BinaryOp::kMin};
  uint32_t seed = 100;
  for (Isa isa : simd_isas()) {
    for (int64_t n : kSizes) {
      for (const Pattern& p : patterns(n)) {
        const std::vector<float> a = binary_inputs(p.a_size, seed++);
        const std::vector<float> b = binary_inputs(p.b_size, seed++);
        int64_t out_size = 1;
        for (int i = 0; i < p.desc.rank; ++i) out_size *= p.desc.shape[i];
        for (BinaryOp op : ops) {
          std::vector<float> got(static_cast<size_t>(out_size), -7.0f), want(got.size(), 7.0f);
          binary_forward_isa(isa, op, p.desc, a.data(), b.data(), got.data());
          ref::binary_forward(op, p.desc, a.data(), b.data(), want.data());
          int failures = 0;
          for (size_t i = 0; i < got.size(); ++i) {
            if (!same_bits(got[i], want[i]) && ++failures <= 3) {
              ADD_FAILURE() << isa_name(isa) << " op " << static_cast<int>(op) << " " << p.name
                            << " n=" << n << " i=" << i << ": got " << got[i] << ", want "
                            << want[i];
            }
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace kiln::kernels

// The Vec API's math functions, called directly: other kernels reuse them,
// and erf, erfc and log1p have no unary op of their own. This file is not
// built with ISA flags, so each vec header is compiled here under a target
// pragma, and called only on a CPU that has the ISA.
namespace kiln::kernels {
enum class VecFn {
  kExp,
  kExp2InRange,  // inputs clamped to its range first (NaN to its lower end)
  kLog,
  kLog1p,
  kTanh,
  kSigmoid,
  kErf,
  kErfc,
  kNormalCdf,
  kNormalPdf
};
}  // namespace kiln::kernels

// y[i] = fn(x[i]), a vector at a time, the tail through partial loads.
#define KILN_DEFINE_APPLY_VEC_FN                                                   \
  void apply_vec_fn(VecFn fn, const float* x, float* y, int64_t n) {               \
    for (int64_t i = 0; i < n; i += kWidth) {                                      \
      const int count = n - i < kWidth ? static_cast<int>(n - i) : kWidth;         \
      const Vec v = load_partial(x + i, count);                                    \
      Vec r = v;                                                                   \
      switch (fn) {                                                                \
        case VecFn::kExp:                                                          \
          r = exp(v);                                                              \
          break;                                                                   \
        case VecFn::kExp2InRange:                                                  \
          r = exp2_in_range(min(max(v, set1(-kExp2FastMax)), set1(kExp2FastMax))); \
          break;                                                                   \
        case VecFn::kLog:                                                          \
          r = log(v);                                                              \
          break;                                                                   \
        case VecFn::kLog1p:                                                        \
          r = log1p(v);                                                            \
          break;                                                                   \
        case VecFn::kTanh:                                                         \
          r = tanh(v);                                                             \
          break;                                                                   \
        case VecFn::kSigmoid:                                                      \
          r = sigmoid(v);                                                          \
          break;                                                                   \
        case VecFn::kErf:                                                          \
          r = erf(v);                                                              \
          break;                                                                   \
        case VecFn::kErfc:                                                         \
          r = erfc(v);                                                             \
          break;                                                                   \
        case VecFn::kNormalCdf:                                                    \
          r = normal_cdf(v);                                                       \
          break;                                                                   \
        case VecFn::kNormalPdf:                                                    \
          r = normal_pdf(v);                                                       \
          break;                                                                   \
      }                                                                            \
      store_partial(y + i, r, count);                                              \
    }                                                                              \
  }

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma,f16c")
#define KILN_VEC_UNDER_TARGET_PRAGMA
#include "kernels/simd/vec_avx512.h"
namespace kiln::kernels::avx512 {
namespace {
KILN_DEFINE_APPLY_VEC_FN
}  // namespace
}  // namespace kiln::kernels::avx512
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")
#include "kernels/simd/vec_avx2.h"
namespace kiln::kernels::avx2 {
namespace {
KILN_DEFINE_APPLY_VEC_FN
}  // namespace
}  // namespace kiln::kernels::avx2
#pragma GCC pop_options
#undef KILN_VEC_UNDER_TARGET_PRAGMA
#undef KILN_DEFINE_APPLY_VEC_FN

namespace kiln::kernels {
namespace {

struct VecFnCase {
  VecFn fn;
  const char* name;
  double (*want)(double);
  double ulps;
  float lo, hi;  // sampled range; with log_scale, of log10 |x| (both signs)
  bool log_scale;
};

// Worst cases measured over 2M random inputs per range, in ulps: exp 1.0,
// exp2_in_range 1.2, log 0.7, log1p 2.4, tanh 1.5, sigmoid 2.2, erf 2.7, erfc 5.4 (the fit's
// own 1.75 ulp plus rounding in its tail), normal_cdf 6.7, normal_pdf 2.0.
std::vector<VecFnCase> vec_fn_cases() {
  const auto sigmoid = [](double x) { return 1 / (1 + std::exp(-x)); };
  const auto cdf = [](double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); };
  const auto pdf = [](double x) { return std::exp(-0.5 * x * x) / std::sqrt(2 * M_PI); };
  const auto exp_ = [](double x) { return std::exp(x); };
  const auto exp2_in_range = [](double x) {
    return std::exp2(std::isnan(x) ? -124.0 : std::clamp(x, -124.0, 124.0));
  };
  const auto log_ = [](double x) { return std::log(x); };
  const auto log1p_ = [](double x) { return std::log1p(x); };
  const auto tanh_ = [](double x) { return std::tanh(x); };
  const auto erf_ = [](double x) { return std::erf(x); };
  const auto erfc_ = [](double x) { return std::erfc(x); };
  return {
      {VecFn::kExp, "exp", exp_, 1.5, -104.0f, 88.7f, false},
      {VecFn::kExp2InRange, "exp2_in_range", exp2_in_range, 1.5, -130.0f, 130.0f, false},
      {VecFn::kLog, "log", log_, 1.5, -44.0f, 38.0f, true},
      {VecFn::kLog1p, "log1p", log1p_, 3, -0.9999f, 20.0f, false},
      {VecFn::kLog1p, "log1p small", log1p_, 3, -30.0f, -0.1f, true},
      {VecFn::kTanh, "tanh", tanh_, 2, -10.0f, 10.0f, false},
      {VecFn::kTanh, "tanh small", tanh_, 2, -30.0f, 0.0f, true},
      {VecFn::kSigmoid, "sigmoid", sigmoid, 3, -100.0f, 30.0f, false},
      {VecFn::kErf, "erf", erf_, 3, -6.0f, 6.0f, false},
      {VecFn::kErf, "erf small", erf_, 3, -30.0f, 0.0f, true},
      {VecFn::kErfc, "erfc", erfc_, 6, -6.0f, 10.5f, false},
      {VecFn::kNormalCdf, "normal_cdf", cdf, 7, -14.0f, 9.0f, false},
      {VecFn::kNormalPdf, "normal_pdf", pdf, 3, -14.0f, 14.0f, false},
  };
}

void apply_vec_fn(Isa isa, VecFn fn, const float* x, float* y, int64_t n) {
  if (isa == Isa::kAvx512) return avx512::apply_vec_fn(fn, x, y, n);
  avx2::apply_vec_fn(fn, x, y, n);
}

TEST(VecMath, MatchesDoublePrecisionWithinTheStatedUlps) {
  if (simd_isas().empty()) GTEST_SKIP() << "no SIMD ISA on this CPU";
  const std::vector<float> specials = special_inputs();
  for (Isa isa : simd_isas()) {
    for (const VecFnCase& c : vec_fn_cases()) {
      std::mt19937 rng(17);
      std::uniform_real_distribution<float> dist(c.lo, c.hi);
      std::vector<float> x = specials;
      for (int i = 0; i < 100000; ++i) {
        const float v = dist(rng);
        x.push_back(c.log_scale ? std::pow(10.0f, v) * ((i & 1) ? 1.0f : -1.0f) : v);
      }
      std::vector<float> y(x.size());
      apply_vec_fn(isa, c.fn, x.data(), y.data(), static_cast<int64_t>(x.size()));
      int failures = 0;
      for (size_t i = 0; i < x.size(); ++i) {
        const double want = c.want(x[i]);
        if (!within(y[i], want, ulps(c.ulps), 0) && ++failures <= 5) {
          ADD_FAILURE() << isa_name(isa) << " " << c.name << "(" << x[i] << ") = " << y[i]
                        << ", want " << want;
        }
      }
    }
  }
}

}  // namespace
}  // namespace kiln::kernels
