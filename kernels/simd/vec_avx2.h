// A small vector abstraction over AVX2 + FMA: 8 float lanes.
//
// Only for files compiled with -mavx2 -mfma (kernels/simd/avx2/*.cc).
// kernels/simd/vec_avx512.h has the same API with 16 lanes, so a kernel body
// written once against it (kernels/simd/*_impl.inc) compiles for both.
// Everything is `static inline` in namespace kiln::kernels::avx2: nothing
// here may be merged by the linker with a copy built for another ISA.
//
// API (identical in both ISAs; `Vec` holds kWidth floats, `Mask` one bit per
// lane):
//   kWidth                             lanes per Vec (8 here, 16 in AVX-512)
//   kPow2Shifter                       1.5 * 2^23, see ldexp_shifted
//   load(p), store(p, a)               unaligned
//   load_partial(p, n), store_partial(p, a, n)
//                                      lanes [0, n) only (0 <= n <= kWidth);
//                                      never touch p[n..]; loaded lanes >= n are 0
//   load_bf16(p), store_bf16(p, a), load_bf16_partial(p, n),
//   store_bf16_partial(p, a, n)        bf16 <-> f32; stores round to nearest
//                                      even, NaN stays NaN (quiet bit set), as
//                                      BFloat16::from_float
//   set1(x), zero()
//   a + b, a - b, a * b, a / b, -a     IEEE, lane-wise
//   fmadd(a, b, c) = a*b + c, fmsub(a, b, c) = a*b - c,
//   fnmadd(a, b, c) = c - a*b          one rounding
//   sqrt(a), abs(a), round(a)          round: to nearest even
//   reciprocal_1_2(a)                  1 / a for a in [1, 2], within 2 ulp
//   min(a, b) = a < b ? a : b, max(a, b) = a > b ? a : b
//                                      so NaN in either gives b; note
//                                      std::min(a, b) == min(b, a) and
//                                      std::max(a, b) == max(b, a), NaN included
//   and_bits, or_bits, xor_bits, andnot_bits(a, b) = ~a & b, copysign(mag, sgn)
//   lt, le, gt, ge, eq (false if either is NaN), ne (true if either is NaN),
//   is_nan(a)                          -> Mask
//   m1 & m2, m1 | m2, ~m, any(m), first_lanes(n) (lanes [0, n) set)
//   select(m, a, b) = m ? a : b
//   reduce_add(a), reduce_max(a), reduce_min(a)
//                                      horizontal, in a fixed order (the same
//                                      pairwise tree for every call)
//   pow2i(n)                           2^n for integral n in [-126, 127]
//   ldexp(a, n)                        a * 2^n for integral n in [-252, 254],
//                                      one rounding (denormal results are
//                                      correctly rounded)
//   ldexp_shifted(a, t)                a * 2^n with t = n + kPow2Shifter (the
//                                      float sum, |n| < 2^22), a and the result
//                                      normal: one integer add to the exponent
//   frexp(a, &e)                       for positive normal a: m in [0.5, 1) and
//                                      integral e with a = m * 2^e
// Math, float32 to a few ulp, from kernels/simd/vec_math.inc (accuracy and
// special values there):
//   exp, log, log1p, tanh, sigmoid, sigmoid_pair(x, &s, &one_minus_s), erf,
//   erfc, normal_cdf, normal_pdf, exp_sum(a, b) = exp(a + b) for a small
//   correction b kept apart from the rounding of a + b; without range tests,
//   for callers that bound the argument themselves: exp_in_range(x) (x in
//   [-kExpFastMax, kExpFastMax]) and exp2_in_range(v) = 2^v (v in
//   [-kExp2FastMax, kExp2FastMax])
// Only explicit fmadd/fmsub/fnmadd are sure to fuse, but GCC may also fuse
// a * b + c written with operators (-ffp-contract=fast is its C++ default):
// where bits must match a scalar reference, avoid that pattern.
#pragma once

// A test may include it under #pragma GCC target("avx2,fma") instead, which
// does not define __AVX2__: it says so with KILN_VEC_UNDER_TARGET_PRAGMA.
#if (!defined(__AVX2__) || !defined(__FMA__)) && !defined(KILN_VEC_UNDER_TARGET_PRAGMA)
#error "vec_avx2.h needs -mavx2 -mfma"
#endif

#include <immintrin.h>

#include <cstdint>
#include <cstring>

namespace kiln::kernels::avx2 {

// n + kPow2Shifter rounds n to an integer held in the low mantissa bits.
inline constexpr float kPow2Shifter = 12582912.0f;  // 1.5 * 2^23
inline constexpr int kWidth = 8;

struct Vec {
  __m256 v;
};
struct Mask {
  __m256 m;  // all ones in selected lanes
};

// Memory.
static inline Vec load(const float* p) { return {_mm256_loadu_ps(p)}; }
static inline void store(float* p, Vec a) { _mm256_storeu_ps(p, a.v); }
static inline __m256i lane_mask_bits(int n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
static inline Mask first_lanes(int n) { return {_mm256_castsi256_ps(lane_mask_bits(n))}; }
static inline Vec load_partial(const float* p, int n) {
  return {_mm256_maskload_ps(p, lane_mask_bits(n))};
}
static inline void store_partial(float* p, Vec a, int n) {
  _mm256_maskstore_ps(p, lane_mask_bits(n), a.v);
}

// Construction.
static inline Vec set1(float x) { return {_mm256_set1_ps(x)}; }
static inline Vec zero() { return {_mm256_setzero_ps()}; }

// Arithmetic.
static inline Vec operator+(Vec a, Vec b) { return {_mm256_add_ps(a.v, b.v)}; }
static inline Vec operator-(Vec a, Vec b) { return {_mm256_sub_ps(a.v, b.v)}; }
static inline Vec operator*(Vec a, Vec b) { return {_mm256_mul_ps(a.v, b.v)}; }
static inline Vec operator/(Vec a, Vec b) { return {_mm256_div_ps(a.v, b.v)}; }
static inline Vec operator-(Vec a) { return {_mm256_xor_ps(a.v, _mm256_set1_ps(-0.0f))}; }
static inline Vec fmadd(Vec a, Vec b, Vec c) { return {_mm256_fmadd_ps(a.v, b.v, c.v)}; }
static inline Vec fmsub(Vec a, Vec b, Vec c) { return {_mm256_fmsub_ps(a.v, b.v, c.v)}; }
static inline Vec fnmadd(Vec a, Vec b, Vec c) { return {_mm256_fnmadd_ps(a.v, b.v, c.v)}; }
static inline Vec sqrt(Vec a) { return {_mm256_sqrt_ps(a.v)}; }
// 1 / a for a in [1, 2] (a sigmoid's denominator): the hardware estimate and
// one Newton step, within 2 ulp, and far cheaper than a division.
static inline Vec reciprocal_1_2(Vec a) {
  const __m256 r = _mm256_rcp_ps(a.v);
  return {_mm256_fmadd_ps(r, _mm256_fnmadd_ps(a.v, r, _mm256_set1_ps(1.0f)), r)};
}
static inline Vec abs(Vec a) { return {_mm256_andnot_ps(_mm256_set1_ps(-0.0f), a.v)}; }
static inline Vec round(Vec a) {
  return {_mm256_round_ps(a.v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)};
}
static inline Vec min(Vec a, Vec b) { return {_mm256_min_ps(a.v, b.v)}; }
static inline Vec max(Vec a, Vec b) { return {_mm256_max_ps(a.v, b.v)}; }

// Bits.
static inline Vec and_bits(Vec a, Vec b) { return {_mm256_and_ps(a.v, b.v)}; }
static inline Vec or_bits(Vec a, Vec b) { return {_mm256_or_ps(a.v, b.v)}; }
static inline Vec xor_bits(Vec a, Vec b) { return {_mm256_xor_ps(a.v, b.v)}; }
static inline Vec andnot_bits(Vec a, Vec b) { return {_mm256_andnot_ps(a.v, b.v)}; }
static inline Vec copysign(Vec mag, Vec sgn) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  return {_mm256_or_ps(_mm256_andnot_ps(sign, mag.v), _mm256_and_ps(sign, sgn.v))};
}

// Comparisons and masks.
static inline Mask lt(Vec a, Vec b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_LT_OQ)}; }
static inline Mask le(Vec a, Vec b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_LE_OQ)}; }
static inline Mask gt(Vec a, Vec b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_GT_OQ)}; }
static inline Mask ge(Vec a, Vec b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_GE_OQ)}; }
static inline Mask eq(Vec a, Vec b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_EQ_OQ)}; }
static inline Mask ne(Vec a, Vec b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_NEQ_UQ)}; }
static inline Mask is_nan(Vec a) { return {_mm256_cmp_ps(a.v, a.v, _CMP_UNORD_Q)}; }
static inline Mask operator&(Mask a, Mask b) { return {_mm256_and_ps(a.m, b.m)}; }
static inline Mask operator|(Mask a, Mask b) { return {_mm256_or_ps(a.m, b.m)}; }
static inline Mask operator~(Mask a) {
  return {_mm256_xor_ps(a.m, _mm256_castsi256_ps(_mm256_set1_epi32(-1)))};
}
static inline bool any(Mask a) { return _mm256_movemask_ps(a.m) != 0; }
static inline Vec select(Mask m, Vec a, Vec b) { return {_mm256_blendv_ps(b.v, a.v, m.m)}; }

// Horizontal reductions: halves, then quarters, then pairs.
static inline float reduce_add(Vec a) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(a.v), _mm256_extractf128_ps(a.v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}
static inline float reduce_max(Vec a) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(a.v), _mm256_extractf128_ps(a.v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}
static inline float reduce_min(Vec a) {
  __m128 s = _mm_min_ps(_mm256_castps256_ps128(a.v), _mm256_extractf128_ps(a.v, 1));
  s = _mm_min_ps(s, _mm_movehl_ps(s, s));
  s = _mm_min_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}

// Exponent manipulation.
static inline __m256i pow2_bits(__m256i n) {
  return _mm256_slli_epi32(_mm256_add_epi32(n, _mm256_set1_epi32(127)), 23);
}
static inline Vec pow2i(Vec n) { return {_mm256_castsi256_ps(pow2_bits(_mm256_cvtps_epi32(n.v)))}; }
static inline Vec ldexp(Vec a, Vec n) {
  // Two exact-range factors: a * 2^n1 stays normal, the last product rounds once.
  const __m256i ni = _mm256_cvtps_epi32(n.v);
  const __m256i n1 = _mm256_srai_epi32(ni, 1);
  const __m256i n2 = _mm256_sub_epi32(ni, n1);
  const __m256 t = _mm256_mul_ps(a.v, _mm256_castsi256_ps(pow2_bits(n1)));
  return {_mm256_mul_ps(t, _mm256_castsi256_ps(pow2_bits(n2)))};
}
static inline Vec ldexp_shifted(Vec a, Vec t) {
  const __m256i n_in_exponent = _mm256_slli_epi32(_mm256_castps_si256(t.v), 23);
  return {_mm256_castsi256_ps(_mm256_add_epi32(_mm256_castps_si256(a.v), n_in_exponent))};
}
static inline Vec frexp(Vec a, Vec* e) {
  const __m256i bits = _mm256_castps_si256(a.v);
  const __m256i biased = _mm256_srli_epi32(bits, 23);
  e->v = _mm256_cvtepi32_ps(_mm256_sub_epi32(biased, _mm256_set1_epi32(126)));
  const __m256i mant = _mm256_or_si256(_mm256_and_si256(bits, _mm256_set1_epi32(0x807fffff)),
                                       _mm256_set1_epi32(0x3f000000));
  return {_mm256_castsi256_ps(mant)};
}

// bf16.
static inline Vec bf16_bits_to_vec(__m128i h) {
  return {_mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16))};
}
static inline __m128i vec_to_bf16_bits(Vec a) {
  const __m256i u = _mm256_castps_si256(a.v);
  const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
  const __m256i rounded =
      _mm256_srli_epi32(_mm256_add_epi32(_mm256_add_epi32(u, _mm256_set1_epi32(0x7fff)), lsb), 16);
  const __m256i quiet_nan = _mm256_or_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(0x40));
  const __m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(u, _mm256_set1_epi32(0x7fffffff)),
                                         _mm256_set1_epi32(0x7f800000));
  const __m256i r = _mm256_blendv_epi8(rounded, quiet_nan, nan);
  // Every lane is <= 0xffff, so the unsigned saturating pack is exact.
  return _mm_packus_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
}
static inline Vec load_bf16(const uint16_t* p) {
  return bf16_bits_to_vec(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}
static inline Vec load_bf16_partial(const uint16_t* p, int n) {
  uint16_t tmp[kWidth] = {};
  std::memcpy(tmp, p, sizeof(uint16_t) * static_cast<size_t>(n));
  return load_bf16(tmp);
}
static inline void store_bf16(uint16_t* p, Vec a) {
  _mm_storeu_si128(reinterpret_cast<__m128i*>(p), vec_to_bf16_bits(a));
}
static inline void store_bf16_partial(uint16_t* p, Vec a, int n) {
  uint16_t tmp[kWidth];
  store_bf16(tmp, a);
  std::memcpy(p, tmp, sizeof(uint16_t) * static_cast<size_t>(n));
}

#include "kernels/simd/vec_math.inc"

}  // namespace kiln::kernels::avx2
