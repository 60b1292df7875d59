// oneDNN matmul (f32, bf16) against the reference kernel over shape sweeps:
// sizes 0 and 1, odd tails, transposed (column-major) operands, padded
// leading dims and broadcast batch dims.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/matmul.h"
#include "kernels/onednn/runtime.h"

namespace kiln::kernels {
namespace {

struct Operand {
  std::vector<float> data;
  int64_t batch_strides[MatmulDesc::kMaxBatchRank] = {};
  int64_t strides[2] = {};
};

// A (batch..., rows, cols) operand, broadcast on batch dims where
// `broadcast` is set, transposed in memory if `col_major`, with `pad` extra
// elements per leading dim.
Operand make_operand(const MatmulDesc& d, int64_t rows, int64_t cols, bool col_major, int64_t pad,
                     uint32_t broadcast_mask, std::mt19937& rng) {
  Operand op;
  const int64_t ld = (col_major ? rows : cols) + pad;
  const int64_t mat = ld * (col_major ? cols : rows);
  op.strides[0] = col_major ? 1 : ld;
  op.strides[1] = col_major ? ld : 1;
  int64_t size = std::max<int64_t>(mat, 1);
  for (int i = d.batch_rank - 1; i >= 0; --i) {
    const bool broadcast = (broadcast_mask >> i) & 1u;
    op.batch_strides[i] = broadcast ? 0 : size;
    if (!broadcast) size *= d.batch[i];
  }
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  op.data.resize(static_cast<size_t>(size));
  for (float& v : op.data) v = dist(rng);
  return op;
}

MatmulDesc with_operands(MatmulDesc d, const Operand& a, const Operand& b) {
  for (int i = 0; i < d.batch_rank; ++i) {
    d.a_batch_strides[i] = a.batch_strides[i];
    d.b_batch_strides[i] = b.batch_strides[i];
  }
  d.a_strides[0] = a.strides[0];
  d.a_strides[1] = a.strides[1];
  d.b_strides[0] = b.strides[0];
  d.b_strides[1] = b.strides[1];
  return d;
}

std::vector<double> to_double(const std::vector<float>& v) { return {v.begin(), v.end()}; }

// c from the f64 reference for the same operands.
std::vector<double> reference(const MatmulDesc& d, const Operand& a, const Operand& b) {
  MatmulDesc r = d;
  r.dtype = DType::kF64;
  std::vector<double> ad = to_double(a.data), bd = to_double(b.data);
  std::vector<double> c(static_cast<size_t>(matmul_batch_numel(d) * d.m * d.n));
  ref::matmul(r, ad.data(), bd.data(), c.data());
  return c;
}

void expect_close(const std::vector<double>& got, const std::vector<double>& want, double tol,
                  const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_NEAR(got[i], want[i], tol * (1.0 + std::abs(want[i]))) << what << " element " << i;
  }
}

struct Case {
  std::vector<int64_t> batch;
  int64_t m, k, n;
};

std::vector<Case> cases() {
  std::vector<Case> out;
  for (int64_t m : {0, 1, 17})
    for (int64_t k : {0, 1, 33})
      for (int64_t n : {0, 1, 7, 40}) out.push_back({{}, m, k, n});
  out.push_back({{3}, 5, 9, 4});
  out.push_back({{2, 3}, 4, 6, 5});
  out.push_back({{2, 1, 3}, 3, 8, 2});
  out.push_back({{0}, 3, 4, 5});
  out.push_back({{4}, 1, 16, 1});
  out.push_back({{2}, 130, 70, 90});
  return out;
}

MatmulDesc desc_of(const Case& c, DType dtype) {
  MatmulDesc d;
  d.batch_rank = static_cast<int>(c.batch.size());
  for (int i = 0; i < d.batch_rank; ++i) d.batch[i] = c.batch[i];
  d.m = c.m;
  d.k = c.k;
  d.n = c.n;
  d.dtype = dtype;
  return d;
}

std::string case_name(const MatmulDesc& d, bool at, bool bt, int pad, uint32_t mask) {
  return matmul_desc_str(d) + (at ? " a^T" : "") + (bt ? " b^T" : "") +
         " pad=" + std::to_string(pad) + " broadcast=" + std::to_string(mask);
}

TEST(MatmulKernel, OnednnF32MatchesReference) {
  OnednnRuntime runtime;
  std::mt19937 rng(7);
  int checked = 0;
  for (const Case& c : cases()) {
    const uint32_t masks = 1u << c.batch.size();
    for (int layout = 0; layout < 4; ++layout) {
      const bool at = layout & 1, bt = layout & 2;
      // Padded leading dims on half of the cases.
      for (int pad : {(c.m + c.k + c.n + layout) % 2 == 0 ? 0 : 3}) {
        for (uint32_t am = 0; am < masks; ++am) {
          const uint32_t bm = (masks - 1) & ~am & 0x5u;  // a mix of both broadcasting
          const MatmulDesc base = desc_of(c, DType::kF32);
          const Operand a = make_operand(base, c.m, c.k, at, pad, am, rng);
          const Operand b = make_operand(base, c.k, c.n, bt, pad, bm, rng);
          const MatmulDesc d = with_operands(base, a, b);
          const std::string name = case_name(d, at, bt, pad, am);
          ASSERT_TRUE(matmul_operand_is_blas_like(d.m, d.k, d.a_strides)) << name;
          std::vector<float> got(static_cast<size_t>(matmul_batch_numel(d) * d.m * d.n), NAN);
          onednn::matmul(runtime, d, a.data.data(), b.data.data(), got.data());
          expect_close(to_double(got), reference(d, a, b), 1e-5 * std::sqrt(c.k + 1.0), name);
          // The cached primitive gives the same bits on a second call.
          std::vector<float> again(got.size());
          onednn::matmul(runtime, d, a.data.data(), b.data.data(), again.data());
          ASSERT_EQ(got, again) << name;
          ++checked;
        }
      }
    }
  }
  EXPECT_GT(checked, 150);
}

TEST(MatmulKernel, RefF32MatchesRefF64) {
  std::mt19937 rng(3);
  const Case c{{2}, 9, 13, 6};
  const MatmulDesc base = desc_of(c, DType::kF32);
  const Operand a = make_operand(base, c.m, c.k, true, 1, 0, rng);
  const Operand b = make_operand(base, c.k, c.n, false, 0, 1, rng);
  const MatmulDesc d = with_operands(base, a, b);
  std::vector<float> got(static_cast<size_t>(2 * c.m * c.n));
  ref::matmul(d, a.data.data(), b.data.data(), got.data());
  expect_close(to_double(got), reference(d, a, b), 1e-6, "ref f32");
}

uint16_t to_bf16(float v) { return BFloat16::from_float(v); }

TEST(MatmulKernel, OnednnBf16MatchesReferenceOnRoundedInputs) {
  OnednnRuntime runtime;
  std::mt19937 rng(11);
  for (const Case& c : std::vector<Case>{{{}, 1, 1, 1},
                                         {{}, 17, 33, 9},
                                         {{3}, 4, 20, 6},
                                         {{2, 2}, 5, 64, 3},
                                         {{}, 0, 4, 2},
                                         {{}, 3, 0, 2}}) {
    for (int layout = 0; layout < 4; ++layout) {
      const bool at = layout & 1, bt = layout & 2;
      const MatmulDesc base = desc_of(c, DType::kBF16);
      Operand a = make_operand(base, c.m, c.k, at, 0, 0, rng);
      Operand b = make_operand(base, c.k, c.n, bt, 1, c.batch.empty() ? 0 : 1, rng);
      std::vector<uint16_t> a16(a.data.size()), b16(b.data.size());
      for (size_t i = 0; i < a16.size(); ++i)
        a.data[i] = BFloat16::to_float(a16[i] = to_bf16(a.data[i]));
      for (size_t i = 0; i < b16.size(); ++i)
        b.data[i] = BFloat16::to_float(b16[i] = to_bf16(b.data[i]));
      const MatmulDesc d = with_operands(base, a, b);
      std::vector<uint16_t> c16(static_cast<size_t>(matmul_batch_numel(d) * d.m * d.n), 0xffff);
      onednn::matmul(runtime, d, a16.data(), b16.data(), c16.data());
      std::vector<double> got(c16.size());
      for (size_t i = 0; i < got.size(); ++i) got[i] = BFloat16::to_float(c16[i]);
      // f32 accumulation, one bf16 rounding of the result.
      expect_close(got, reference(d, a, b), 1.0 / 128, case_name(d, at, bt, 0, 0));
    }
  }
}

TEST(MatmulKernel, BlasLikeOperands) {
  const int64_t row_major[2] = {8, 1}, col_major[2] = {1, 4}, neither[2] = {8, 2},
                overlapping[2] = {0, 1}, strided_row[2] = {5, 3}, padded_column[2] = {5, 1};
  int64_t n[2];
  EXPECT_TRUE(matmul_operand_is_blas_like(4, 8, row_major, n));
  EXPECT_EQ(n[0], 8);
  EXPECT_EQ(n[1], 1);
  EXPECT_TRUE(matmul_operand_is_blas_like(4, 8, col_major, n));
  EXPECT_EQ(n[0], 1);
  EXPECT_EQ(n[1], 4);
  EXPECT_FALSE(matmul_operand_is_blas_like(4, 8, neither));
  EXPECT_FALSE(matmul_operand_is_blas_like(4, 8, overlapping));
  EXPECT_FALSE(matmul_operand_is_blas_like(8, 1, overlapping));
  EXPECT_TRUE(matmul_operand_is_blas_like(0, 8, neither));
  // A row with a non-unit column stride is a column-major (1, 8).
  EXPECT_TRUE(matmul_operand_is_blas_like(1, 8, strided_row, n));
  EXPECT_EQ(n[0], 1);
  EXPECT_EQ(n[1], 3);
  EXPECT_TRUE(matmul_operand_is_blas_like(8, 1, padded_column, n));
  EXPECT_EQ(n[0], 5);
  EXPECT_EQ(n[1], 1);
}

}  // namespace
}  // namespace kiln::kernels
