// Every SIMD ISA of this CPU against the reference f32 <-> bf16 conversion:
// the same bits (round to nearest even, NaN stays NaN) over all 65536 bf16
// values, random f32 bit patterns, rounding ties and sizes with vector tails.
#include <gtest/gtest.h>

#include <bit>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "kernels/convert.h"
#include "kernels/copy.h"

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

void to_bf16(Isa isa, const float* src, uint16_t* dst, int64_t n) {
  switch (isa) {
    case Isa::kAvx512:
      return avx512::f32_to_bf16(src, dst, n);
    case Isa::kAvx2:
      return avx2::f32_to_bf16(src, dst, n);
    case Isa::kRef:
      break;
  }
  ref::f32_to_bf16(src, dst, n);
}

void to_f32(Isa isa, const uint16_t* src, float* dst, int64_t n) {
  switch (isa) {
    case Isa::kAvx512:
      return avx512::bf16_to_f32(src, dst, n);
    case Isa::kAvx2:
      return avx2::bf16_to_f32(src, dst, n);
    case Isa::kRef:
      break;
  }
  ref::bf16_to_f32(src, dst, n);
}

// Random bit patterns (every class: NaNs with any payload, infinities,
// denormals, zeros) mixed with rounding ties and values that round up to inf.
std::vector<float> f32_inputs(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  const uint32_t specials[] = {
      0x00000000u, 0x80000000u, 0x7f800000u, 0xff800000u,  // +-0, +-inf
      0x7f800001u, 0xff800001u, 0x7fc00000u, 0x7fbfffffu,  // NaNs, low payload bits only too
      0x3f808000u, 0x3f818000u, 0x3f80c000u, 0x3f807fffu,  // ties to even (down, up), above, below
      0x7f7fffffu, 0x7f7f8000u, 0x7f7f7fffu, 0xff7fffffu,  // round up to inf, or not
      0x00000001u, 0x00008000u, 0x00018000u, 0x807fffffu,  // denormals
  };
  std::vector<float> v(static_cast<size_t>(n));
  for (size_t i = 0; i < v.size(); ++i) {
    const uint32_t bits = i % 4 == 1 ? specials[(i / 4) % std::size(specials)] : rng();
    v[i] = std::bit_cast<float>(bits);
  }
  return v;
}

void expect_same(const std::vector<uint16_t>& got, const std::vector<uint16_t>& want,
                 const std::vector<float>& src, const std::string& what) {
  int failures = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (got[i] != want[i] && ++failures <= 5) {
      ADD_FAILURE() << what << " i=" << i << " src bits 0x" << std::hex
                    << std::bit_cast<uint32_t>(src[i]) << ": got 0x" << got[i] << ", want 0x"
                    << want[i];
    }
  }
}

TEST(ConvertKernels, F32ToBf16MatchesReferenceBits) {
  if (simd_isas().empty()) GTEST_SKIP() << "no SIMD ISA on this CPU";
  uint32_t seed = 1;
  for (Isa isa : simd_isas()) {
    for (int64_t n : kSizes) {
      const std::vector<float> src = f32_inputs(n, seed++);
      // Guard values after the end catch writes past n.
      std::vector<uint16_t> got(src.size() + 16, 0xdead), want(src.size(), 0xbeef);
      to_bf16(isa, src.data(), got.data(), n);
      ref::f32_to_bf16(src.data(), want.data(), n);
      for (size_t i = src.size(); i < got.size(); ++i) ASSERT_EQ(got[i], 0xdead) << "wrote past n";
      got.resize(src.size());
      expect_same(got, want, src, std::string(isa_name(isa)) + " n=" + std::to_string(n));
    }
  }
}

TEST(ConvertKernels, F32ToBf16RoundsToNearestEvenAndKeepsNan) {
  for (Isa isa : available_isas()) {
    const std::vector<float> src = {1.00390625f,  // 0x3f808000: tie, rounds down to even
                                    std::bit_cast<float>(0x3f818000u),  // tie, rounds up to even
                                    FLT_MAX, std::bit_cast<float>(0x7f800001u)};
    std::vector<uint16_t> got(src.size());
    to_bf16(isa, src.data(), got.data(), static_cast<int64_t>(src.size()));
    EXPECT_EQ(got[0], 0x3f80) << isa_name(isa);
    EXPECT_EQ(got[1], 0x3f82) << isa_name(isa);
    EXPECT_EQ(got[2], 0x7f80) << isa_name(isa);  // rounds up to inf
    EXPECT_EQ(got[3] & 0x7f80, 0x7f80) << isa_name(isa);
    EXPECT_NE(got[3] & 0x007f, 0) << isa_name(isa) << ": NaN became inf";
  }
}

TEST(ConvertKernels, Bf16ToF32IsExactForEveryValue) {
  std::vector<uint16_t> all(65536);
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<uint16_t>(i);
  for (Isa isa : available_isas()) {
    std::vector<float> got(all.size());
    to_f32(isa, all.data(), got.data(), static_cast<int64_t>(all.size()));
    for (size_t i = 0; i < all.size(); ++i) {
      ASSERT_EQ(std::bit_cast<uint32_t>(got[i]), static_cast<uint32_t>(i) << 16)
          << isa_name(isa) << " bf16 0x" << std::hex << i;
    }
  }
}

TEST(ConvertKernels, Bf16ToF32OverSizes) {
  if (simd_isas().empty()) GTEST_SKIP() << "no SIMD ISA on this CPU";
  std::mt19937 rng(3);
  for (Isa isa : simd_isas()) {
    for (int64_t n : kSizes) {
      std::vector<uint16_t> src(static_cast<size_t>(n));
      for (uint16_t& b : src) b = static_cast<uint16_t>(rng());
      // Guard values after the end catch writes past n.
      std::vector<float> got(src.size() + 16, 7.0f), want(src.size(), 0.0f);
      to_f32(isa, src.data(), got.data(), n);
      ref::bf16_to_f32(src.data(), want.data(), n);
      for (size_t i = 0; i < src.size(); ++i) {
        ASSERT_EQ(std::bit_cast<uint32_t>(got[i]), std::bit_cast<uint32_t>(want[i]))
            << isa_name(isa) << " n=" << n << " i=" << i;
      }
      for (size_t i = src.size(); i < got.size(); ++i) ASSERT_EQ(got[i], 7.0f) << "wrote past n";
    }
  }
}

// The dispatched entry points (copy.h) agree with the reference too.
TEST(ConvertKernels, DispatchedRoundTrip) {
  const std::vector<float> src = f32_inputs(1003, 9);
  std::vector<uint16_t> bf(src.size()), want(src.size());
  f32_to_bf16(src.data(), bf.data(), static_cast<int64_t>(src.size()));
  ref::f32_to_bf16(src.data(), want.data(), static_cast<int64_t>(src.size()));
  expect_same(bf, want, src, "dispatched");
  std::vector<float> back(src.size());
  bf16_to_f32(bf.data(), back.data(), static_cast<int64_t>(bf.size()));
  for (size_t i = 0; i < src.size(); ++i) {
    ASSERT_EQ(std::bit_cast<uint32_t>(back[i]), static_cast<uint32_t>(bf[i]) << 16) << i;
  }
}

}  // namespace
}  // namespace kiln::kernels
