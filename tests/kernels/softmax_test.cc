// Every SIMD ISA of this CPU against the reference softmax, log_softmax and
// cross-entropy kernels over row-length and row-count sweeps (tails, sizes 0
// and 1), on ordinary, extreme (+-1e4) and masked (-inf) logits.
//
// Tolerances: the reference accumulates in double, the SIMD kernels in f32
// with exp / log to ~1 ulp, so values are compared relative to the
// magnitudes they are made of: |got - ref| <= 1e-5 (|ref| + scale), with
// scale the size of the terms (the row's logit range for log-probabilities
// and losses, |y| (|dy| + |sum|) for the softmax backward, ...). NaN must
// match NaN and infinities must match exactly.
#include <gtest/gtest.h>
#include <omp.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernels/softmax.h"

namespace kiln::kernels {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

std::vector<Isa> simd_isas() {
  std::vector<Isa> isas;
  for (Isa isa : available_isas()) {
    if (isa != Isa::kRef) isas.push_back(isa);
  }
  return isas;
}

constexpr int64_t kLengths[] = {1, 7, 8, 9, 16, 17, 100, 1000, 4097};
constexpr int64_t kRowCounts[] = {0, 1, 5};

enum class Logits { kOrdinary, kExtreme, kMasked };

const char* logits_name(Logits kind) {
  switch (kind) {
    case Logits::kOrdinary:
      return "ordinary";
    case Logits::kExtreme:
      return "extreme";
    case Logits::kMasked:
      return "masked";
  }
  return "?";
}

// (rows, n) logits. Extreme: +-1e4 mixed with ordinary values. Masked: about
// a third -inf, never a whole row (that row would be NaN; tested apart).
std::vector<float> make_logits(Logits kind, int64_t rows, int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-10, 10);
  std::uniform_int_distribution<int> pick(0, 2);
  std::vector<float> v(static_cast<size_t>(rows * n));
  for (float& x : v) {
    x = dist(rng);
    if (kind == Logits::kExtreme && pick(rng) == 0) x = x > 0 ? 1e4f : -1e4f;
    if (kind == Logits::kMasked && pick(rng) == 0) x = -kInf;
  }
  if (kind == Logits::kMasked) {
    for (int64_t r = 0; r < rows; ++r) v[r * n + (r * 7) % n] = dist(rng);
  }
  return v;
}

std::vector<float> random_vector(int64_t n, float lo, float hi, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = dist(rng);
  return v;
}

// Per-row scale: the largest finite |logit| of the row, at least 1.
std::vector<float> row_scale(const std::vector<float>& x, int64_t rows, int64_t n) {
  std::vector<float> s(static_cast<size_t>(rows), 1.0f);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t j = 0; j < n; ++j) {
      const float a = std::abs(x[r * n + j]);
      if (std::isfinite(a) && a > s[r]) s[r] = a;
    }
  }
  return s;
}

bool close(float got, float want, double scale) {
  if (std::isnan(want)) return std::isnan(got);
  if (std::isinf(want)) return got == want;
  return std::abs(double(got) - want) <= 1e-5 * (std::abs(want) + scale);
}

// Compares element-wise; scale(i) gives each element's scale.
template <class Scale>
void expect_close(const std::vector<float>& got, const std::vector<float>& want, Scale scale,
                  const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  int reported = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (!close(got[i], want[i], scale(i)) && reported++ < 5) {
      ADD_FAILURE() << what << ": element " << i << " is " << got[i] << ", expected " << want[i]
                    << " (scale " << scale(i) << ")";
    }
  }
}

std::string label(Isa isa, Logits kind, int64_t rows, int64_t n) {
  return std::string(isa_name(isa)) + " " + logits_name(kind) + " rows " + std::to_string(rows) +
         " n " + std::to_string(n);
}

constexpr Logits kKinds[] = {Logits::kOrdinary, Logits::kExtreme, Logits::kMasked};

TEST(SoftmaxKernels, ForwardMatchesReference) {
  for (Isa isa : simd_isas()) {
    for (Logits kind : kKinds) {
      for (int64_t n : kLengths) {
        for (int64_t rows : kRowCounts) {
          const std::vector<float> x = make_logits(kind, rows, n, 1);
          const std::vector<float> scale = row_scale(x, rows, n);
          for (SoftmaxKind sk : {SoftmaxKind::kSoftmax, SoftmaxKind::kLogSoftmax}) {
            std::vector<float> y_ref(x.size()), y(x.size(), NAN);
            ref::softmax_forward(sk, x.data(), y_ref.data(), rows, n);
            softmax_forward_isa(isa, sk, x.data(), y.data(), rows, n);
            const bool log = sk == SoftmaxKind::kLogSoftmax;
            // Probabilities are relative; log-probabilities absolute in the logits' range.
            expect_close(
                y, y_ref, [&](size_t i) { return log ? 2.0 * scale[i / n] : 1e-30; },
                label(isa, kind, rows, n) + (log ? " log_softmax" : " softmax"));
          }
        }
      }
    }
  }
}

TEST(SoftmaxKernels, BackwardMatchesReference) {
  for (Isa isa : simd_isas()) {
    for (Logits kind : kKinds) {
      for (int64_t n : kLengths) {
        for (int64_t rows : kRowCounts) {
          const std::vector<float> x = make_logits(kind, rows, n, 2);
          const std::vector<float> dy = random_vector(rows * n, -1, 1, 3);
          for (SoftmaxKind sk : {SoftmaxKind::kSoftmax, SoftmaxKind::kLogSoftmax}) {
            const bool log = sk == SoftmaxKind::kLogSoftmax;
            std::vector<float> y(x.size());
            ref::softmax_forward(sk, x.data(), y.data(), rows, n);
            std::vector<float> dx_ref(x.size()), dx(x.size(), NAN);
            ref::softmax_backward(sk, y.data(), dy.data(), dx_ref.data(), rows, n);
            softmax_backward_isa(isa, sk, y.data(), dy.data(), dx.data(), rows, n);
            // softmax: y (dy - s), |s| <= 1; log_softmax: dy - p sum(dy), |sum(dy)| <= n.
            expect_close(
                dx, dx_ref,
                [&](size_t i) {
                  const double p = log ? std::exp(double(y[i])) : double(y[i]);
                  return log ? 1.0 + p * static_cast<double>(n) : p * 2.0;
                },
                label(isa, kind, rows, n) + (log ? " log_softmax" : " softmax") + " backward");
          }
        }
      }
    }
  }
}

TEST(SoftmaxKernels, RowOfOnlyMaskedLogitsIsNan) {
  const std::vector<float> x(9, -kInf);
  for (Isa isa : available_isas()) {
    for (SoftmaxKind sk : {SoftmaxKind::kSoftmax, SoftmaxKind::kLogSoftmax}) {
      std::vector<float> y(9, 0.0f);
      softmax_forward_isa(isa, sk, x.data(), y.data(), 1, 9);
      for (float v : y) EXPECT_TRUE(std::isnan(v)) << isa_name(isa);
    }
  }
}

// One NaN or +inf logit anywhere in a row (the kernels' four-vector loop,
// single vectors, or the tail) makes the row NaN, as in the reference; a row
// whose logits all lie close to its max takes the kernels' fast exp, so the
// NaN must be caught before it.
TEST(SoftmaxKernels, NanOrInfiniteLogitMakesTheRowNan) {
  const int64_t n = 45;  // 32 in the four-vector loop, one vector, a tail of 5
  for (Isa isa : simd_isas()) {
    // A NaN with payload bits, which exp's fast path could turn into a number.
    for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::bit_cast<float>(0x7fc001ffu),
                      std::bit_cast<float>(0xffc0ff01u), kInf}) {
      for (int64_t at : {int64_t{0}, int64_t{33}, int64_t{44}}) {
        std::vector<float> x = random_vector(n, -1, 1, 7);
        x[at] = bad;
        for (SoftmaxKind sk : {SoftmaxKind::kSoftmax, SoftmaxKind::kLogSoftmax}) {
          std::vector<float> y_ref(n), y(n, 0.0f);
          ref::softmax_forward(sk, x.data(), y_ref.data(), 1, n);
          softmax_forward_isa(isa, sk, x.data(), y.data(), 1, n);
          for (int64_t j = 0; j < n; ++j) {
            ASSERT_TRUE(std::isnan(y_ref[j])) << "reference, element " << j;
            ASSERT_TRUE(std::isnan(y[j]))
                << isa_name(isa) << " " << bad << " at " << at << ": element " << j;
          }
        }
      }
    }
  }
}

// The same bits whatever the thread count (each row is one thread's work).
TEST(SoftmaxKernels, SameBitsWhateverTheThreadCount) {
  const int64_t rows = 300, n = 1000;
  const std::vector<float> x = make_logits(Logits::kOrdinary, rows, n, 4);
  const int saved_threads = omp_get_max_threads();
  for (Isa isa : available_isas()) {
    std::vector<float> first;
    for (int threads = 1; threads <= 3; ++threads) {
      omp_set_num_threads(threads);
      std::vector<float> y(x.size());
      softmax_forward_isa(isa, SoftmaxKind::kSoftmax, x.data(), y.data(), rows, n);
      if (threads == 1) {
        first = y;
      } else {
        EXPECT_EQ(y, first) << isa_name(isa) << " threads " << threads;
      }
    }
  }
  omp_set_num_threads(saved_threads);
}

struct CeCase {
  bool soft;
  double smoothing;
};

// Labels in [0, n), every fourth row ignored (-100); masked logits keep the
// label's own logit finite so losses stay finite. Soft targets are random
// rows summing to 1, zero where the logit is masked.
void make_targets(const std::vector<float>& x, int64_t rows, int64_t n, bool soft,
                  std::vector<int64_t>* labels, std::vector<float>* targets) {
  std::mt19937 rng(5);
  labels->assign(static_cast<size_t>(rows), 0);
  targets->assign(static_cast<size_t>(rows * n), 0.0f);
  for (int64_t r = 0; r < rows; ++r) {
    (*labels)[r] = r % 4 == 3 ? -100 : (r * 7) % n;
    if (!soft) continue;
    std::uniform_real_distribution<float> dist(0, 1);
    double total = 0;
    for (int64_t j = 0; j < n; ++j) {
      const float t = std::isinf(x[r * n + j]) ? 0.0f : dist(rng);
      (*targets)[r * n + j] = t;
      total += t;
    }
    for (int64_t j = 0; j < n; ++j) (*targets)[r * n + j] /= static_cast<float>(total);
  }
}

TEST(CrossEntropyKernels, ForwardAndBackwardMatchReference) {
  const CeCase ce_cases[] = {{false, 0.0}, {false, 0.1}, {true, 0.0}, {true, 0.2}};
  for (Isa isa : simd_isas()) {
    for (Logits kind : kKinds) {
      for (int64_t n : kLengths) {
        for (int64_t rows : {int64_t{0}, int64_t{1}, int64_t{8}}) {
          for (const CeCase& c : ce_cases) {
            // Smoothing puts weight on masked logits: an infinite loss, tested apart.
            if (kind == Logits::kMasked && c.smoothing != 0) continue;
            const std::string what = label(isa, kind, rows, n) + (c.soft ? " soft" : " labels") +
                                     " smoothing " + std::to_string(c.smoothing);
            const std::vector<float> x = make_logits(kind, rows, n, 6);
            const std::vector<float> scale = row_scale(x, rows, n);
            std::vector<int64_t> labels;
            std::vector<float> targets;
            make_targets(x, rows, n, c.soft, &labels, &targets);
            const CrossEntropyDesc desc{
                .rows = rows, .classes = n, .label_smoothing = c.smoothing, .ignore_index = -100};
            const int64_t* lab = c.soft ? nullptr : labels.data();
            const float* soft = c.soft ? targets.data() : nullptr;
            std::vector<float> loss_ref(rows), lse_ref(rows), loss(rows, NAN), lse(rows, NAN);
            ref::cross_entropy_forward(desc, x.data(), lab, soft, loss_ref.data(), lse_ref.data());
            cross_entropy_forward_isa(isa, desc, x.data(), lab, soft, loss.data(), lse.data());
            expect_close(
                loss, loss_ref, [&](size_t i) { return 4.0 * scale[i]; }, what + " loss");
            expect_close(
                lse, lse_ref, [&](size_t i) { return 2.0 * scale[i]; }, what + " lse");

            const std::vector<float> g = random_vector(rows, -2, 2, 7);
            std::vector<float> dx_ref(x.size()), dx(x.size(), NAN);
            ref::cross_entropy_backward(desc, x.data(), lab, soft, lse_ref.data(), g.data(),
                                        dx_ref.data());
            cross_entropy_backward_isa(isa, desc, x.data(), lab, soft, lse_ref.data(), g.data(),
                                       dx.data());
            // g (Q p - q) with p, q <= 1.
            expect_close(
                dx, dx_ref, [&](size_t i) { return 2.0 * std::abs(g[i / n]); }, what + " d_logits");
          }
        }
      }
    }
  }
}

TEST(CrossEntropyKernels, MaskedLogitsWithSmoothingGiveAnInfiniteLoss) {
  const std::vector<float> x{1, -kInf, 2, 0.5f};
  const int64_t label = 0;
  for (Isa isa : available_isas()) {
    float loss = 0, lse = 0;
    const CrossEntropyDesc desc{.rows = 1, .classes = 4, .label_smoothing = 0.1};
    cross_entropy_forward_isa(isa, desc, x.data(), &label, nullptr, &loss, &lse);
    EXPECT_EQ(loss, kInf) << isa_name(isa);
    const CrossEntropyDesc plain{.rows = 1, .classes = 4};
    cross_entropy_forward_isa(isa, plain, x.data(), &label, nullptr, &loss, &lse);
    EXPECT_TRUE(std::isfinite(loss)) << isa_name(isa);
    EXPECT_NEAR(loss, lse - 1.0f, 1e-6) << isa_name(isa);
  }
}

}  // namespace
}  // namespace kiln::kernels
