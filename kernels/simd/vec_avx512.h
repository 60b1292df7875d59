// A small vector abstraction over AVX-512 (F, BW, DQ, VL): 16 float lanes.
//
// Only for files compiled with the AVX-512 flags (kernels/simd/avx512/*.cc).
// The API is the one documented at the top of kernels/simd/vec_avx2.h, with
// kWidth = 16 and Mask a lane bit mask (__mmask16); kernel bodies written
// against it (kernels/simd/*_impl.inc) compile for both ISAs. Everything is
// `static inline` in namespace kiln::kernels::avx512: nothing here may be
// merged by the linker with a copy built for another ISA.
#pragma once

// A test may include it under #pragma GCC target(...) instead, which does not
// define __AVX512F__: it says so with KILN_VEC_UNDER_TARGET_PRAGMA.
#if (!defined(__AVX512F__) || !defined(__AVX512BW__) || !defined(__AVX512DQ__) || \
     !defined(__AVX512VL__) || !defined(__FMA__)) &&                              \
    !defined(KILN_VEC_UNDER_TARGET_PRAGMA)
#error "vec_avx512.h needs -mavx512f -mavx512bw -mavx512dq -mavx512vl -mfma"
#endif

// GCC 12 warns inside its own AVX-512 headers (_mm512_undefined_* is a
// self-initialised variable, GCC bug 105593); the warning belongs to them.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <cstdint>

namespace kiln::kernels::avx512 {

// n + kPow2Shifter rounds n to an integer held in the low mantissa bits.
inline constexpr float kPow2Shifter = 12582912.0f;  // 1.5 * 2^23
inline constexpr int kWidth = 16;

struct Vec {
  __m512 v;
};
struct Mask {
  __mmask16 m;  // bit i set: lane i selected
};

// Memory.
static inline Mask first_lanes(int n) {
  return {static_cast<__mmask16>((1u << static_cast<unsigned>(n)) - 1u)};
}
static inline Vec load(const float* p) { return {_mm512_loadu_ps(p)}; }
static inline void store(float* p, Vec a) { _mm512_storeu_ps(p, a.v); }
static inline Vec load_partial(const float* p, int n) {
  return {_mm512_maskz_loadu_ps(first_lanes(n).m, p)};
}
static inline void store_partial(float* p, Vec a, int n) {
  _mm512_mask_storeu_ps(p, first_lanes(n).m, a.v);
}

// Construction.
static inline Vec set1(float x) { return {_mm512_set1_ps(x)}; }
static inline Vec zero() { return {_mm512_setzero_ps()}; }

// Arithmetic.
static inline Vec operator+(Vec a, Vec b) { return {_mm512_add_ps(a.v, b.v)}; }
static inline Vec operator-(Vec a, Vec b) { return {_mm512_sub_ps(a.v, b.v)}; }
static inline Vec operator*(Vec a, Vec b) { return {_mm512_mul_ps(a.v, b.v)}; }
static inline Vec operator/(Vec a, Vec b) { return {_mm512_div_ps(a.v, b.v)}; }
static inline Vec operator-(Vec a) { return {_mm512_xor_ps(a.v, _mm512_set1_ps(-0.0f))}; }
static inline Vec fmadd(Vec a, Vec b, Vec c) { return {_mm512_fmadd_ps(a.v, b.v, c.v)}; }
static inline Vec fmsub(Vec a, Vec b, Vec c) { return {_mm512_fmsub_ps(a.v, b.v, c.v)}; }
static inline Vec fnmadd(Vec a, Vec b, Vec c) { return {_mm512_fnmadd_ps(a.v, b.v, c.v)}; }
static inline Vec sqrt(Vec a) { return {_mm512_sqrt_ps(a.v)}; }
// 1 / a for a in [1, 2] (a sigmoid's denominator): the hardware estimate and
// one Newton step, within 2 ulp, and far cheaper than a division.
static inline Vec reciprocal_1_2(Vec a) {
  const __m512 r = _mm512_rcp14_ps(a.v);
  return {_mm512_fmadd_ps(r, _mm512_fnmadd_ps(a.v, r, _mm512_set1_ps(1.0f)), r)};
}
static inline Vec abs(Vec a) { return {_mm512_andnot_ps(_mm512_set1_ps(-0.0f), a.v)}; }
static inline Vec round(Vec a) {
  return {_mm512_roundscale_ps(a.v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)};
}
static inline Vec min(Vec a, Vec b) { return {_mm512_min_ps(a.v, b.v)}; }
static inline Vec max(Vec a, Vec b) { return {_mm512_max_ps(a.v, b.v)}; }

// Bits.
static inline Vec and_bits(Vec a, Vec b) { return {_mm512_and_ps(a.v, b.v)}; }
static inline Vec or_bits(Vec a, Vec b) { return {_mm512_or_ps(a.v, b.v)}; }
static inline Vec xor_bits(Vec a, Vec b) { return {_mm512_xor_ps(a.v, b.v)}; }
static inline Vec andnot_bits(Vec a, Vec b) { return {_mm512_andnot_ps(a.v, b.v)}; }
static inline Vec copysign(Vec mag, Vec sgn) {
  const __m512 sign = _mm512_set1_ps(-0.0f);
  return {_mm512_or_ps(_mm512_andnot_ps(sign, mag.v), _mm512_and_ps(sign, sgn.v))};
}

// Comparisons and masks.
static inline Mask lt(Vec a, Vec b) { return {_mm512_cmp_ps_mask(a.v, b.v, _CMP_LT_OQ)}; }
static inline Mask le(Vec a, Vec b) { return {_mm512_cmp_ps_mask(a.v, b.v, _CMP_LE_OQ)}; }
static inline Mask gt(Vec a, Vec b) { return {_mm512_cmp_ps_mask(a.v, b.v, _CMP_GT_OQ)}; }
static inline Mask ge(Vec a, Vec b) { return {_mm512_cmp_ps_mask(a.v, b.v, _CMP_GE_OQ)}; }
static inline Mask eq(Vec a, Vec b) { return {_mm512_cmp_ps_mask(a.v, b.v, _CMP_EQ_OQ)}; }
static inline Mask ne(Vec a, Vec b) { return {_mm512_cmp_ps_mask(a.v, b.v, _CMP_NEQ_UQ)}; }
static inline Mask is_nan(Vec a) { return {_mm512_cmp_ps_mask(a.v, a.v, _CMP_UNORD_Q)}; }
static inline Mask operator&(Mask a, Mask b) { return {static_cast<__mmask16>(a.m & b.m)}; }
static inline Mask operator|(Mask a, Mask b) { return {static_cast<__mmask16>(a.m | b.m)}; }
static inline Mask operator~(Mask a) { return {static_cast<__mmask16>(~a.m)}; }
static inline bool any(Mask a) { return a.m != 0; }
static inline Vec select(Mask m, Vec a, Vec b) { return {_mm512_mask_blend_ps(m.m, b.v, a.v)}; }

// Horizontal reductions: halves, then quarters, then pairs.
static inline float reduce_add(Vec a) {
  const __m256 h = _mm256_add_ps(_mm512_castps512_ps256(a.v), _mm512_extractf32x8_ps(a.v, 1));
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}
static inline float reduce_max(Vec a) {
  const __m256 h = _mm256_max_ps(_mm512_castps512_ps256(a.v), _mm512_extractf32x8_ps(a.v, 1));
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}
static inline float reduce_min(Vec a) {
  const __m256 h = _mm256_min_ps(_mm512_castps512_ps256(a.v), _mm512_extractf32x8_ps(a.v, 1));
  __m128 s = _mm_min_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
  s = _mm_min_ps(s, _mm_movehl_ps(s, s));
  s = _mm_min_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}

// Exponent manipulation.
static inline __m512i pow2_bits(__m512i n) {
  return _mm512_slli_epi32(_mm512_add_epi32(n, _mm512_set1_epi32(127)), 23);
}
static inline Vec pow2i(Vec n) { return {_mm512_castsi512_ps(pow2_bits(_mm512_cvtps_epi32(n.v)))}; }
static inline Vec ldexp(Vec a, Vec n) {
  // Two exact-range factors: a * 2^n1 stays normal, the last product rounds once.
  const __m512i ni = _mm512_cvtps_epi32(n.v);
  const __m512i n1 = _mm512_srai_epi32(ni, 1);
  const __m512i n2 = _mm512_sub_epi32(ni, n1);
  const __m512 t = _mm512_mul_ps(a.v, _mm512_castsi512_ps(pow2_bits(n1)));
  return {_mm512_mul_ps(t, _mm512_castsi512_ps(pow2_bits(n2)))};
}
static inline Vec ldexp_shifted(Vec a, Vec t) {
  const __m512i n_in_exponent = _mm512_slli_epi32(_mm512_castps_si512(t.v), 23);
  return {_mm512_castsi512_ps(_mm512_add_epi32(_mm512_castps_si512(a.v), n_in_exponent))};
}
static inline Vec frexp(Vec a, Vec* e) {
  const __m512i bits = _mm512_castps_si512(a.v);
  const __m512i biased = _mm512_srli_epi32(bits, 23);
  e->v = _mm512_cvtepi32_ps(_mm512_sub_epi32(biased, _mm512_set1_epi32(126)));
  const __m512i mant = _mm512_or_si512(_mm512_and_si512(bits, _mm512_set1_epi32(0x807fffff)),
                                       _mm512_set1_epi32(0x3f000000));
  return {_mm512_castsi512_ps(mant)};
}

// bf16.
static inline Vec bf16_bits_to_vec(__m256i h) {
  return {_mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16))};
}
// Rounded bf16 bits in the low half of each 32-bit lane.
static inline __m512i vec_to_bf16_lanes(Vec a) {
  const __m512i u = _mm512_castps_si512(a.v);
  const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
  const __m512i rounded =
      _mm512_srli_epi32(_mm512_add_epi32(_mm512_add_epi32(u, _mm512_set1_epi32(0x7fff)), lsb), 16);
  const __m512i quiet_nan = _mm512_or_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(0x40));
  const __mmask16 nan = _mm512_cmpgt_epi32_mask(_mm512_and_si512(u, _mm512_set1_epi32(0x7fffffff)),
                                                _mm512_set1_epi32(0x7f800000));
  return _mm512_mask_blend_epi32(nan, rounded, quiet_nan);
}
static inline Vec load_bf16(const uint16_t* p) {
  return bf16_bits_to_vec(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}
static inline Vec load_bf16_partial(const uint16_t* p, int n) {
  return bf16_bits_to_vec(_mm256_maskz_loadu_epi16(first_lanes(n).m, p));
}
static inline void store_bf16(uint16_t* p, Vec a) {
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), _mm512_cvtepi32_epi16(vec_to_bf16_lanes(a)));
}
static inline void store_bf16_partial(uint16_t* p, Vec a, int n) {
  _mm512_mask_cvtepi32_storeu_epi16(p, first_lanes(n).m, vec_to_bf16_lanes(a));
}

#include "kernels/simd/vec_math.inc"

}  // namespace kiln::kernels::avx512
