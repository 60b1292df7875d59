// Every SIMD ISA of this CPU against the reference reductions over
// (outer, r, inner) sweeps, including rows longer than kReduceBlock, plus
// bitwise determinism across thread counts.
//
// Tolerances:
// - max, min: equal to the reference (order does not change them; NaN
//   propagates, so NaN is compared as NaN).
// - sum, sum of squares on data whose every partial sum is exact in f32
//   (multiples of 1/4 in [-2, 2]): the same bits as the reference, so a lost
//   or doubled element cannot hide in a tolerance.
// - sum, sum of squares on random data, against the f64 sum `exact`:
//   |got - exact| <= 2 |ref - exact| + 4 eps sum |x| (resp. sum x^2): no
//   worse than twice the reference's own rounding error, plus a little. The
//   SIMD order (several accumulators per block, fused multiply-adds for
//   squares) differs from the reference's, so bits may differ.
#include <gtest/gtest.h>
#include <omp.h>

#include <bit>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "kernels/reduce.h"

namespace kiln::kernels {
namespace {

std::vector<Isa> simd_isas() {
  std::vector<Isa> isas;
  for (Isa isa : available_isas()) {
    if (isa != Isa::kRef) isas.push_back(isa);
  }
  return isas;
}

constexpr ReduceOp kOps[] = {ReduceOp::kSum, ReduceOp::kMax, ReduceOp::kMin, ReduceOp::kSumSquares};

const char* op_name(ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum:
      return "sum";
    case ReduceOp::kMax:
      return "max";
    case ReduceOp::kMin:
      return "min";
    case ReduceOp::kSumSquares:
      return "sum_squares";
  }
  return "?";
}

struct Shape3 {
  int64_t outer, r, inner;
  int64_t numel() const { return outer * r * inner; }
};

// (outer, r, inner) sweeps: r and inner with vector tails, r beyond
// kReduceBlock (several blocks and a partial one), inner == 1 (vectorised
// over r) and inner > 1 (vectorised over inner), sizes 0 and 1.
std::vector<Shape3> shapes() {
  std::vector<Shape3> s;
  const int64_t rs[] = {0, 1, 7, 8, 9, 16, 17, 31, 33, 100, 1000};
  const int64_t inners[] = {1, 2, 7, 8, 9, 17, 33, 64, 100};
  for (int64_t outer : {1, 3}) {
    for (int64_t r : rs) {
      for (int64_t inner : inners) s.push_back({outer, r, inner});
    }
  }
  for (int64_t r :
       {kReduceBlock - 1, kReduceBlock, kReduceBlock + 1, 3 * kReduceBlock + 17, int64_t{100003}}) {
    s.push_back({1, r, 1});
    s.push_back({3, r, 1});
    s.push_back({2, r, 3});
  }
  s.push_back({0, 5, 4});
  s.push_back({4, 5, 0});
  s.push_back({1000, 1, 1});
  s.push_back({100003, 1, 1});
  s.push_back({1, 2, 100003});
  return s;
}

std::string label(Isa isa, ReduceOp op, const Shape3& s) {
  return std::string(isa_name(isa)) + " " + op_name(op) + " (" + std::to_string(s.outer) + ", " +
         std::to_string(s.r) + ", " + std::to_string(s.inner) + ")";
}

std::vector<float> random_data(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = dist(rng);
  return v;
}

// Multiples of 1/4 in [-2, 2]: every partial sum (of values or of squares,
// multiples of 1/16 below 2^19 here) fits in 24 bits, so it is exact in f32
// whatever the order.
std::vector<float> exact_data(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> dist(-8, 8);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = static_cast<float>(dist(rng)) * 0.25f;
  return v;
}

bool same_value(float a, float b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return a == b;
}

bool same_bits(float a, float b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return std::bit_cast<uint32_t>(a) == std::bit_cast<uint32_t>(b);
}

std::vector<float> run(Isa isa, ReduceOp op, const std::vector<float>& x, const Shape3& s) {
  std::vector<float> out(static_cast<size_t>(s.outer * s.inner), 12345.0f);
  reduce_isa(isa, op, x.data(), out.data(), s.outer, s.r, s.inner);
  return out;
}

TEST(ReduceKernels, ExactDataMatchesReferenceBits) {
  if (simd_isas().empty()) GTEST_SKIP() << "no SIMD ISA on this CPU";
  uint32_t seed = 1;
  for (Isa isa : simd_isas()) {
    for (const Shape3& s : shapes()) {
      const std::vector<float> x = exact_data(s.numel(), seed++);
      for (ReduceOp op : kOps) {
        const std::vector<float> got = run(isa, op, x, s);
        const std::vector<float> want = run(Isa::kRef, op, x, s);
        int failures = 0;
        for (size_t i = 0; i < got.size(); ++i) {
          if (!same_bits(got[i], want[i]) && ++failures <= 3) {
            ADD_FAILURE() << label(isa, op, s) << " output " << i << ": got " << got[i] << ", want "
                          << want[i];
          }
        }
      }
    }
  }
}

TEST(ReduceKernels, RandomDataMatchesReference) {
  if (simd_isas().empty()) GTEST_SKIP() << "no SIMD ISA on this CPU";
  uint32_t seed = 1000;
  for (Isa isa : simd_isas()) {
    for (const Shape3& s : shapes()) {
      const std::vector<float> x = random_data(s.numel(), seed++);
      for (ReduceOp op : kOps) {
        const std::vector<float> got = run(isa, op, x, s);
        const std::vector<float> want = run(Isa::kRef, op, x, s);
        int failures = 0;
        for (int64_t o = 0; o < s.outer; ++o) {
          for (int64_t j = 0; j < s.inner; ++j) {
            const size_t idx = static_cast<size_t>(o * s.inner + j);
            bool ok = false;
            if (op == ReduceOp::kMax || op == ReduceOp::kMin) {
              ok = same_value(got[idx], want[idx]);
            } else {
              double exact = 0, magnitude = 0;
              for (int64_t k = 0; k < s.r; ++k) {
                const double v = x[static_cast<size_t>((o * s.r + k) * s.inner + j)];
                const double term = op == ReduceOp::kSum ? v : v * v;
                exact += term;
                magnitude += std::fabs(term);
              }
              ok = std::fabs(got[idx] - exact) <=
                   2 * std::fabs(want[idx] - exact) + 4 * FLT_EPSILON * magnitude;
            }
            if (!ok && ++failures <= 3) {
              ADD_FAILURE() << label(isa, op, s) << " output " << idx << ": got " << got[idx]
                            << ", ref " << want[idx];
            }
          }
        }
      }
    }
  }
}

TEST(ReduceKernels, MaxAndMinPropagateNanAndSumsPropagateInf) {
  for (Isa isa : available_isas()) {
    for (const Shape3& s : {Shape3{2, 20000, 1}, Shape3{2, 37, 1}, Shape3{2, 37, 19}}) {
      // One NaN per output, at a different place each: first, tail, a later block.
      for (int64_t pos : {int64_t{0}, s.r - 1, s.r / 2 + 1}) {
        std::vector<float> x = random_data(s.numel(), 5);
        for (int64_t o = 0; o < s.outer; ++o) {
          for (int64_t j = 0; j < s.inner; ++j) {
            x[static_cast<size_t>((o * s.r + pos) * s.inner + j)] = NAN;
          }
        }
        for (ReduceOp op : kOps) {
          for (float v : run(isa, op, x, s)) {
            EXPECT_TRUE(std::isnan(v)) << label(isa, op, s) << " NaN at " << pos;
          }
        }
      }
      // Infinities in output 0: (0, 1, 0) and (0, 0, 0).
      std::vector<float> x = random_data(s.numel(), 6);
      x[static_cast<size_t>(s.inner)] = INFINITY;
      EXPECT_EQ(run(isa, ReduceOp::kSum, x, s)[0], INFINITY) << label(isa, ReduceOp::kSum, s);
      EXPECT_EQ(run(isa, ReduceOp::kMax, x, s)[0], INFINITY) << label(isa, ReduceOp::kMax, s);
      x[0] = -INFINITY;
      EXPECT_TRUE(std::isnan(run(isa, ReduceOp::kSum, x, s)[0])) << label(isa, ReduceOp::kSum, s);
    }
  }
}

TEST(ReduceKernels, EmptyRowsGiveTheIdentity) {
  for (Isa isa : available_isas()) {
    const std::vector<float> x;
    EXPECT_EQ(run(isa, ReduceOp::kSum, x, {2, 0, 3}), std::vector<float>(6, 0.0f));
    EXPECT_EQ(run(isa, ReduceOp::kSumSquares, x, {2, 0, 1}), std::vector<float>(2, 0.0f));
    EXPECT_EQ(run(isa, ReduceOp::kMax, x, {2, 0, 3}), std::vector<float>(6, -INFINITY));
    EXPECT_EQ(run(isa, ReduceOp::kMin, x, {1, 0, 1}), std::vector<float>(1, INFINITY));
  }
}

// Same bits with one thread as with two, for every ISA including ref.
TEST(ReduceKernels, ResultsDoNotDependOnTheThreadCount) {
  const int saved = omp_get_max_threads();
  for (Isa isa : available_isas()) {
    for (const Shape3& s : {Shape3{3, 100003, 1}, Shape3{1, 5 * kReduceBlock + 3, 1},
                            Shape3{5, 9000, 7}, Shape3{70000, 3, 1}, Shape3{2, 3000, 100}}) {
      const std::vector<float> x = random_data(s.numel(), 9);
      for (ReduceOp op : kOps) {
        omp_set_num_threads(1);
        const std::vector<float> one = run(isa, op, x, s);
        omp_set_num_threads(2);
        const std::vector<float> two = run(isa, op, x, s);
        for (size_t i = 0; i < one.size(); ++i) {
          ASSERT_TRUE(same_bits(one[i], two[i])) << label(isa, op, s) << " output " << i;
        }
      }
    }
  }
  omp_set_num_threads(saved);
}

}  // namespace
}  // namespace kiln::kernels
