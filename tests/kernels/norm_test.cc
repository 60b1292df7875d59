// Every SIMD ISA of this CPU against the reference layer norm kernels over
// row-length and row-count sweeps (tails, sizes 0 and 1), with and without
// gamma / beta, plus bitwise determinism of the backward across thread
// counts.
//
// Tolerances: the reference accumulates row statistics in double, the SIMD
// kernels in f32 with a different order, so values are compared relative to
// the magnitudes involved: |got - ref| <= 2e-5 (|ref| + scale), where scale
// is the size of the terms the value is made of (1 for normalised outputs,
// the row's |g| mean for d_x, the column's sum of |dy| for d_gamma/d_beta).
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "kernels/norm.h"

namespace kiln::kernels {
namespace {

std::vector<Isa> simd_isas() {
  std::vector<Isa> isas;
  for (Isa isa : available_isas()) {
    if (isa != Isa::kRef) isas.push_back(isa);
  }
  return isas;
}

std::vector<float> random_vector(int64_t n, float lo, float hi, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = dist(rng);
  return v;
}

constexpr int64_t kLengths[] = {1, 7, 8, 9, 16, 17, 100, 1000, 4097};
constexpr int64_t kRowCounts[] = {0, 1, 3, 130};  // 130: three d_gamma blocks, the last partial

void expect_close(const std::vector<float>& got, const std::vector<float>& want,
                  const std::vector<float>& scale, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  int reported = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double tol = 2e-5 * (std::abs(want[i]) + scale[i]);
    if (!(std::abs(double(got[i]) - want[i]) <= tol) && reported++ < 5) {
      ADD_FAILURE() << what << ": element " << i << " is " << got[i] << ", expected " << want[i]
                    << " (tolerance " << tol << ")";
    }
  }
}

struct Case {
  int64_t rows, d;
  bool gamma, beta;
  std::string name() const {
    return "rows " + std::to_string(rows) + " d " + std::to_string(d) + (gamma ? " gamma" : "") +
           (beta ? " beta" : "");
  }
};

std::vector<Case> cases() {
  std::vector<Case> c;
  for (int64_t d : kLengths) {
    for (int64_t rows : kRowCounts) {
      if (rows * d > 200000) continue;
      c.push_back({rows, d, true, true});
    }
    c.push_back({5, d, false, false});
    c.push_back({5, d, true, false});
    c.push_back({5, d, false, true});
  }
  c.push_back({3, 0, true, true});
  return c;
}

TEST(LayerNormKernels, ForwardMatchesReference) {
  for (Isa isa : simd_isas()) {
    for (const Case& c : cases()) {
      const std::string what = std::string(isa_name(isa)) + " " + c.name();
      // An offset mean and a spread far from 1 exercise both statistics.
      const std::vector<float> x = random_vector(c.rows * c.d, 3, 11, 1);
      const std::vector<float> gamma = random_vector(c.d, 0.5, 2, 2);
      const std::vector<float> beta = random_vector(c.d, -1, 1, 3);
      const float* g = c.gamma ? gamma.data() : nullptr;
      const float* b = c.beta ? beta.data() : nullptr;
      std::vector<float> y_ref(x.size()), y(x.size()), mean_ref(c.rows), mean(c.rows),
          rstd_ref(c.rows), rstd(c.rows);
      ref::layer_norm_forward(x.data(), g, b, y_ref.data(), mean_ref.data(), rstd_ref.data(),
                              c.rows, c.d, 1e-5);
      layer_norm_forward_isa(isa, x.data(), g, b, y.data(), mean.data(), rstd.data(), c.rows, c.d,
                             1e-5);
      expect_close(y, y_ref, std::vector<float>(y.size(), 2.0f), what + " y");
      expect_close(mean, mean_ref, std::vector<float>(mean.size(), 0.0f), what + " mean");
      expect_close(rstd, rstd_ref, std::vector<float>(rstd.size(), 0.0f), what + " rstd");
    }
  }
}

TEST(LayerNormKernels, BackwardMatchesReference) {
  for (Isa isa : simd_isas()) {
    for (const Case& c : cases()) {
      const std::string what = std::string(isa_name(isa)) + " " + c.name();
      const std::vector<float> x = random_vector(c.rows * c.d, -2, 4, 4);
      const std::vector<float> dy = random_vector(c.rows * c.d, -1, 1, 5);
      const std::vector<float> gamma = random_vector(c.d, 0.5, 2, 6);
      const float* g = c.gamma ? gamma.data() : nullptr;
      std::vector<float> y(x.size()), mean(c.rows), rstd(c.rows);
      ref::layer_norm_forward(x.data(), g, nullptr, y.data(), mean.data(), rstd.data(), c.rows, c.d,
                              1e-5);
      std::vector<float> dx_ref(x.size()), dx(x.size(), NAN), dg_ref(c.d), dg(c.d, NAN),
          db_ref(c.d), db(c.d, NAN);
      ref::layer_norm_backward(x.data(), g, mean.data(), rstd.data(), dy.data(), dx_ref.data(),
                               dg_ref.data(), db_ref.data(), c.rows, c.d);
      layer_norm_backward_isa(isa, x.data(), g, mean.data(), rstd.data(), dy.data(), dx.data(),
                              dg.data(), db.data(), c.rows, c.d);
      // d_x is rstd times terms of the size of |g| (gamma <= 2, |dy| <= 1).
      std::vector<float> dx_scale(x.size());
      for (int64_t r = 0; r < c.rows; ++r) {
        for (int64_t j = 0; j < c.d; ++j) dx_scale[r * c.d + j] = 4 * rstd[r];
      }
      std::vector<float> col_scale(c.d, 0.0f);
      for (int64_t r = 0; r < c.rows; ++r) {
        for (int64_t j = 0; j < c.d; ++j) col_scale[j] += 3 * std::abs(dy[r * c.d + j]);
      }
      expect_close(dx, dx_ref, dx_scale, what + " d_x");
      expect_close(dg, dg_ref, col_scale, what + " d_gamma");
      expect_close(db, db_ref, col_scale, what + " d_beta");
    }
  }
}

TEST(LayerNormKernels, BackwardWritesOnlyWhatIsAsked) {
  const int64_t rows = 9, d = 17;
  const std::vector<float> x = random_vector(rows * d, -1, 1, 7);
  const std::vector<float> dy = random_vector(rows * d, -1, 1, 8);
  std::vector<float> y(x.size()), mean(rows), rstd(rows);
  ref::layer_norm_forward(x.data(), nullptr, nullptr, y.data(), mean.data(), rstd.data(), rows, d,
                          1e-5);
  for (Isa isa : available_isas()) {
    std::vector<float> dx_all(x.size()), dg_all(d), db_all(d);
    layer_norm_backward_isa(isa, x.data(), nullptr, mean.data(), rstd.data(), dy.data(),
                            dx_all.data(), dg_all.data(), db_all.data(), rows, d);
    // Only d_x; then only d_gamma: the same values as computing all three.
    std::vector<float> dx(x.size()), dg(d);
    layer_norm_backward_isa(isa, x.data(), nullptr, mean.data(), rstd.data(), dy.data(), dx.data(),
                            nullptr, nullptr, rows, d);
    layer_norm_backward_isa(isa, x.data(), nullptr, mean.data(), rstd.data(), dy.data(), nullptr,
                            dg.data(), nullptr, rows, d);
    EXPECT_EQ(dx, dx_all) << isa_name(isa);
    EXPECT_EQ(dg, dg_all) << isa_name(isa);
  }
}

// d_gamma, d_beta and d_x are the same bits whatever the thread count.
TEST(LayerNormKernels, BackwardIsTheSameWhateverTheThreadCount) {
  const int64_t rows = 1000, d = 300;  // 16 row blocks
  const std::vector<float> x = random_vector(rows * d, -2, 2, 9);
  const std::vector<float> dy = random_vector(rows * d, -1, 1, 10);
  const std::vector<float> gamma = random_vector(d, 0.5, 2, 11);
  std::vector<float> y(x.size()), mean(rows), rstd(rows);
  ref::layer_norm_forward(x.data(), gamma.data(), nullptr, y.data(), mean.data(), rstd.data(), rows,
                          d, 1e-5);
  const int saved_threads = omp_get_max_threads();
  for (Isa isa : available_isas()) {
    std::vector<float> results[3][3];
    for (int threads = 1; threads <= 3; ++threads) {
      omp_set_num_threads(threads);
      std::vector<float>* out = results[threads - 1];
      out[0].resize(x.size());
      out[1].resize(d);
      out[2].resize(d);
      layer_norm_backward_isa(isa, x.data(), gamma.data(), mean.data(), rstd.data(), dy.data(),
                              out[0].data(), out[1].data(), out[2].data(), rows, d);
    }
    for (int t = 1; t < 3; ++t) {
      EXPECT_EQ(results[t][0], results[0][0]) << isa_name(isa) << " d_x, threads " << t + 1;
      EXPECT_EQ(results[t][1], results[0][1]) << isa_name(isa) << " d_gamma, threads " << t + 1;
      EXPECT_EQ(results[t][2], results[0][2]) << isa_name(isa) << " d_beta, threads " << t + 1;
    }
  }
  omp_set_num_threads(saved_threads);
}

}  // namespace
}  // namespace kiln::kernels
