// Optimizer kernels: every ISA against the reference over sizes with tails,
// 0 and 1, and more than one fixed reduction block; results independent of
// the thread count.
#include "kernels/optim.h"

#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace kiln::kernels {
namespace {

const std::vector<int64_t> kSizes = {0,  1,  2,   7,    8,    9,    15,   16,   17,
                                     31, 33, 100, 1000, 8191, 8192, 8193, 20001};

std::vector<float> random_vector(int64_t n, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = dist(rng);
  return v;
}

void expect_close(const std::vector<float>& actual, const std::vector<float>& expected, double rtol,
                  const std::string& what) {
  ASSERT_EQ(actual.size(), expected.size()) << what;
  for (size_t i = 0; i < actual.size(); ++i) {
    const double tol = 1e-6 + rtol * std::abs(expected[i]);
    ASSERT_NEAR(actual[i], expected[i], tol) << what << " at " << i;
  }
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

std::string label(Isa isa, int64_t n) {
  return std::string(isa_name(isa)) + " n=" + std::to_string(n);
}

TEST(OptimKernels, SumSquaresFiniteMatchesRef) {
  for (Isa isa : available_isas()) {
    for (int64_t n : kSizes) {
      const std::vector<float> x = random_vector(n, 1);
      const SumSquares ref = ref::sum_squares_finite(x.data(), n);
      const SumSquares got = sum_squares_finite_isa(isa, x.data(), n);
      EXPECT_NEAR(got.sum_squares, ref.sum_squares, 1e-5 * ref.sum_squares + 1e-12)
          << label(isa, n);
      EXPECT_TRUE(got.finite) << label(isa, n);
      if (n > 0) {
        double exact = 0;
        for (float v : x) exact += static_cast<double>(v) * v;
        EXPECT_NEAR(ref.sum_squares, exact, 1e-5 * exact) << label(isa, n);
      }
    }
  }
}

TEST(OptimKernels, SumSquaresFlagsNanAndInfAnywhere) {
  const float kBad[] = {std::numeric_limits<float>::quiet_NaN(),
                        std::numeric_limits<float>::infinity(),
                        -std::numeric_limits<float>::infinity()};
  for (Isa isa : available_isas()) {
    for (int64_t n : {1, 9, 17, 8193, 20001}) {
      // First, last, and a position in the middle (tails included).
      for (int64_t pos : {int64_t{0}, n - 1, n / 2}) {
        for (float bad : kBad) {
          std::vector<float> x = random_vector(n, 2);
          x[pos] = bad;
          EXPECT_FALSE(sum_squares_finite_isa(isa, x.data(), n).finite)
              << label(isa, n) << " pos " << pos << " value " << bad;
        }
      }
    }
    // Squares that overflow are still finite gradients.
    std::vector<float> big(37, 1e30f);
    const SumSquares s = sum_squares_finite_isa(isa, big.data(), 37);
    EXPECT_TRUE(s.finite) << isa_name(isa);
    EXPECT_TRUE(std::isinf(s.sum_squares)) << isa_name(isa);
  }
}

TEST(OptimKernels, AgcClipMatchesRef) {
  // (rows, cols): one unit (cols == 1) of many sizes including > one block,
  // and column units with tails.
  std::vector<std::pair<int64_t, int64_t>> shapes;
  for (int64_t n : kSizes) shapes.emplace_back(n, 1);
  for (int64_t rows : {1, 3, 8, 27}) {
    for (int64_t cols : {2, 7, 8, 9, 16, 17, 40, 65}) shapes.emplace_back(rows, cols);
  }
  shapes.emplace_back(0, 5);
  for (Isa isa : available_isas()) {
    for (auto [rows, cols] : shapes) {
      const int64_t n = rows * cols;
      const std::vector<float> param = random_vector(n, 3);
      // Gradients of varied scale, so some units clip and some do not.
      std::vector<float> grad = random_vector(n, 4);
      for (int64_t i = 0; i < n; ++i) grad[i] *= (i % cols) % 3 == 0 ? 0.001f : 1.0f;
      std::vector<float> want = grad, got = grad;
      ref::agc_clip(param.data(), want.data(), rows, cols, 0.05, 1e-3);
      agc_clip_isa(isa, param.data(), got.data(), rows, cols, 0.05, 1e-3);
      expect_close(got, want, 1e-5, label(isa, n) + " cols=" + std::to_string(cols));
    }
  }
}

TEST(OptimKernels, SgdUpdateMatchesRef) {
  for (Isa isa : available_isas()) {
    for (int64_t n : kSizes) {
      for (int variant = 0; variant < 3; ++variant) {
        SgdHyper h;
        h.lr = 0.1;
        h.weight_decay = 1e-2;
        h.momentum = variant == 0 ? 0.0 : 0.9;
        h.dampening = variant == 2 ? 0.1 : 0.0;
        h.nesterov = variant == 1;
        const std::vector<float> grad = random_vector(n, 5);
        std::vector<float> p_ref = random_vector(n, 6), p = p_ref;
        std::vector<float> b_ref = random_vector(n, 7), b = b_ref;
        float* buf_ref = variant == 0 ? nullptr : b_ref.data();
        float* buf = variant == 0 ? nullptr : b.data();
        ref::sgd_update(p_ref.data(), grad.data(), buf_ref, n, h);
        sgd_update_isa(isa, p.data(), grad.data(), buf, n, h);
        const std::string what = label(isa, n) + " variant " + std::to_string(variant);
        expect_close(p, p_ref, 1e-6, what);
        expect_close(b, b_ref, 1e-6, what);
      }
    }
  }
}

TEST(OptimKernels, AdamUpdateMatchesRef) {
  for (Isa isa : available_isas()) {
    for (int64_t n : kSizes) {
      for (bool decoupled : {false, true}) {
        AdamHyper h;
        h.lr = 1e-2;
        h.beta1 = 0.9;
        h.beta2 = 0.99;
        h.eps = 1e-8;
        h.weight_decay = 0.1;
        h.decoupled = decoupled;
        h.bias_correction1 = 1 - std::pow(0.9, 3);
        h.bias_correction2 = 1 - std::pow(0.99, 3);
        const std::vector<float> grad = random_vector(n, 8);
        std::vector<float> p_ref = random_vector(n, 9), p = p_ref;
        std::vector<float> m_ref = random_vector(n, 10, -0.1f, 0.1f), m = m_ref;
        std::vector<float> v_ref = random_vector(n, 11, 0.0f, 0.1f), v = v_ref;
        ref::adam_update(p_ref.data(), grad.data(), m_ref.data(), v_ref.data(), n, h);
        adam_update_isa(isa, p.data(), grad.data(), m.data(), v.data(), n, h);
        const std::string what = label(isa, n) + (decoupled ? " adamw" : " adam");
        expect_close(p, p_ref, 1e-5, what);
        expect_close(m, m_ref, 1e-5, what);
        expect_close(v, v_ref, 1e-5, what);
      }
    }
  }
}

TEST(OptimKernels, LambUpdateMatchesRef) {
  for (Isa isa : available_isas()) {
    for (int64_t n : kSizes) {
      for (double eps : {1e-6, 0.0}) {
        LambHyper h;
        h.lr = 1e-2;
        h.weight_decay = 0.01;
        h.eps = eps;
        h.bias_correction1 = 1 - std::pow(0.9, 2);
        h.bias_correction2 = 1 - std::pow(0.999, 2);
        const std::vector<float> grad = random_vector(n, 12);
        std::vector<float> p_ref = random_vector(n, 13), p = p_ref;
        std::vector<float> m_ref = random_vector(n, 14, -0.1f, 0.1f), m = m_ref;
        std::vector<float> v_ref = random_vector(n, 15, 0.01f, 0.1f), v = v_ref;
        const double trust_ref =
            ref::lamb_update(p_ref.data(), grad.data(), m_ref.data(), v_ref.data(), n, h);
        const double trust = lamb_update_isa(isa, p.data(), grad.data(), m.data(), v.data(), n, h);
        const std::string what = label(isa, n) + " eps " + std::to_string(eps);
        EXPECT_NEAR(trust, trust_ref, 1e-5 * trust_ref) << what;
        if (n == 0) {
          EXPECT_EQ(trust, 1.0) << what;
        }
        expect_close(p, p_ref, 1e-5, what);
        expect_close(m, m_ref, 1e-5, what);
        expect_close(v, v_ref, 1e-5, what);
      }
    }
  }
}

TEST(OptimKernels, LambTrustRatioIsOneForZeroParams) {
  for (Isa isa : available_isas()) {
    const int64_t n = 19;
    std::vector<float> p(n, 0.0f), m(n, 0.0f), v(n, 0.0f);
    const std::vector<float> grad = random_vector(n, 16);
    LambHyper h;
    h.lr = 0.1;
    h.bias_correction1 = 0.1;
    h.bias_correction2 = 0.001;
    EXPECT_EQ(lamb_update_isa(isa, p.data(), grad.data(), m.data(), v.data(), n, h), 1.0)
        << isa_name(isa);
  }
}

TEST(OptimKernels, EmaUpdateMatchesRef) {
  for (Isa isa : available_isas()) {
    for (int64_t n : kSizes) {
      const std::vector<float> value = random_vector(n, 17);
      std::vector<float> s_ref = random_vector(n, 18), s = s_ref;
      ref::ema_update(s_ref.data(), value.data(), n, 0.9);
      ema_update_isa(isa, s.data(), value.data(), n, 0.9);
      expect_close(s, s_ref, 1e-6, label(isa, n));
    }
  }
}

// The same bits with one thread and with three, on every ISA, for the
// kernels that sum (fixed blocks) and an elementwise one (tail handling).
TEST(OptimKernels, ResultsDoNotDependOnThreadCount) {
  const int saved = omp_get_max_threads();
  const int64_t n = 3 * kReduceBlock + 77;
  const std::vector<float> grad = random_vector(n, 19);
  const std::vector<float> param0 = random_vector(n, 20);
  for (Isa isa : available_isas()) {
    struct Out {
      SumSquares sum;
      double trust = 0;
      std::vector<float> lamb_p, agc_g, agc_cols_g, sgd_p;
    } out[2];
    for (int k = 0; k < 2; ++k) {
      omp_set_num_threads(k == 0 ? 1 : 3);
      out[k].sum = sum_squares_finite_isa(isa, grad.data(), n);
      std::vector<float> p = param0, m(n, 0.0f), v(n, 0.0f);
      LambHyper h;
      h.lr = 0.01;
      h.weight_decay = 0.01;
      h.bias_correction1 = 0.1;
      h.bias_correction2 = 0.001;
      out[k].trust = lamb_update_isa(isa, p.data(), grad.data(), m.data(), v.data(), n, h);
      out[k].lamb_p = p;
      std::vector<float> g = grad;
      agc_clip_isa(isa, param0.data(), g.data(), n, 1, 1e-3, 1e-3);
      out[k].agc_g = g;
      g = grad;
      agc_clip_isa(isa, param0.data(), g.data(), n / 7, 7, 1e-3, 1e-3);
      out[k].agc_cols_g = g;
      std::vector<float> sp = param0, buf(n, 0.5f);
      SgdHyper sh;
      sh.lr = 0.1;
      sh.momentum = 0.9;
      sh.nesterov = true;
      sgd_update_isa(isa, sp.data(), grad.data(), buf.data(), n, sh);
      out[k].sgd_p = sp;
    }
    EXPECT_EQ(out[0].sum.sum_squares, out[1].sum.sum_squares) << isa_name(isa);
    EXPECT_EQ(out[0].trust, out[1].trust) << isa_name(isa);
    EXPECT_TRUE(same_bits(out[0].lamb_p, out[1].lamb_p)) << isa_name(isa);
    EXPECT_TRUE(same_bits(out[0].agc_g, out[1].agc_g)) << isa_name(isa);
    EXPECT_TRUE(same_bits(out[0].agc_cols_g, out[1].agc_cols_g)) << isa_name(isa);
    EXPECT_TRUE(same_bits(out[0].sgd_p, out[1].sgd_p)) << isa_name(isa);
  }
  omp_set_num_threads(saved);
}

// The dispatched f64 kernels are the reference, and agree with f32.
TEST(OptimKernels, DoubleKernelsAgreeWithFloat) {
  const int64_t n = 41;
  const std::vector<float> gf = random_vector(n, 21), pf = random_vector(n, 22);
  std::vector<double> gd(gf.begin(), gf.end()), pd(pf.begin(), pf.end());
  std::vector<double> md(n, 0.0), vd(n, 0.0);
  std::vector<float> p32 = pf, m32(n, 0.0f), v32(n, 0.0f);
  AdamHyper h;
  h.lr = 0.01;
  h.bias_correction1 = 0.1;
  h.bias_correction2 = 0.001;
  adam_update(pd.data(), gd.data(), md.data(), vd.data(), n, h);
  adam_update(p32.data(), gf.data(), m32.data(), v32.data(), n, h);
  for (int64_t i = 0; i < n; ++i) EXPECT_NEAR(p32[i], pd[i], 1e-6) << i;
}

}  // namespace
}  // namespace kiln::kernels
