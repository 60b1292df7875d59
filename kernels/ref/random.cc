#include "kernels/random.h"

#include <algorithm>
#include <cmath>

#include "kernels/parallel.h"

namespace kiln::kernels {
namespace {

constexpr uint32_t kMul0 = 0xD2511F53u;
constexpr uint32_t kMul1 = 0xCD9E8D57u;
constexpr uint32_t kKey0 = 0x9E3779B9u;
constexpr uint32_t kKey1 = 0xBB67AE85u;
constexpr double kTwoPi = 6.283185307179586476925;

// Uniform in (0, 1]: never 0, so log() is finite.
double open_unit(uint32_t hi, uint32_t lo) {
  const uint64_t bits = (static_cast<uint64_t>(hi) << 21) ^ lo;
  return (static_cast<double>(bits & ((1ull << 53) - 1)) + 1.0) * 0x1.0p-53;
}

template <class T>
void uniform_impl(uint64_t seed, uint64_t counter, T* dst, int64_t n, double lo, double hi) {
  parallel_for(n, kElementwiseGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      // A block holds four 32-bit floats' bits or two doubles' bits.
      const uint64_t per_block = sizeof(T) == 4 ? 4 : 2;
      const auto r = philox4x32(seed, counter + static_cast<uint64_t>(i) / per_block);
      double u;
      if constexpr (sizeof(T) == 4) {
        u = static_cast<double>(r[i % 4] >> 8) * 0x1.0p-24;
      } else {
        const uint32_t a = r[(i % 2) * 2], c = r[(i % 2) * 2 + 1];
        u = static_cast<double>(((static_cast<uint64_t>(a) << 32) | c) >> 11) * 0x1.0p-53;
      }
      T v = static_cast<T>(lo + (hi - lo) * u);
      // Rounding to T can land on hi; keep the interval half-open.
      if (v >= static_cast<T>(hi) && hi > lo)
        v = std::nextafter(static_cast<T>(hi), static_cast<T>(lo));
      dst[i] = v;
    }
  });
}

// Standard normal pair from block `block`.
std::array<double, 2> normal_pair(uint64_t seed, uint64_t block) {
  const auto r = philox4x32(seed, block);
  const double u1 = open_unit(r[0], r[1]);
  const double u2 = open_unit(r[2], r[3]);
  const double radius = std::sqrt(-2.0 * std::log(u1));
  return {radius * std::cos(kTwoPi * u2), radius * std::sin(kTwoPi * u2)};
}

template <class T>
void normal_impl(uint64_t seed, uint64_t counter, T* dst, int64_t n, double mean, double stddev) {
  parallel_for(n, kElementwiseGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const auto z = normal_pair(seed, counter + static_cast<uint64_t>(i) / 2);
      dst[i] = static_cast<T>(mean + stddev * z[i % 2]);
    }
  });
}

template <class T>
void truncated_impl(uint64_t seed, uint64_t counter, T* dst, int64_t n, double mean,
                    double stddev) {
  parallel_for(n, kElementwiseGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      double z = 0;
      for (int attempt = 0; attempt < kTruncatedDraws; ++attempt) {
        z = normal_pair(seed, counter + static_cast<uint64_t>(i) * kTruncatedDraws + attempt)[0];
        if (std::abs(z) <= 2.0) break;
      }
      z = std::clamp(z, -2.0, 2.0);
      dst[i] = static_cast<T>(mean + stddev * z);
    }
  });
}

}  // namespace

std::array<uint32_t, 4> philox4x32(uint64_t seed, uint64_t counter) {
  uint32_t c0 = static_cast<uint32_t>(counter), c1 = static_cast<uint32_t>(counter >> 32);
  uint32_t c2 = 0, c3 = 0;
  uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  for (int round = 0; round < 10; ++round) {
    const uint64_t p0 = static_cast<uint64_t>(kMul0) * c0;
    const uint64_t p1 = static_cast<uint64_t>(kMul1) * c2;
    const uint32_t hi0 = static_cast<uint32_t>(p0 >> 32), lo0 = static_cast<uint32_t>(p0);
    const uint32_t hi1 = static_cast<uint32_t>(p1 >> 32), lo1 = static_cast<uint32_t>(p1);
    c0 = hi1 ^ c1 ^ k0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ k1;
    c3 = lo0;
    k0 += kKey0;
    k1 += kKey1;
  }
  return {c0, c1, c2, c3};
}

void random_uniform(uint64_t seed, uint64_t counter, float* dst, int64_t n, double lo, double hi) {
  uniform_impl(seed, counter, dst, n, lo, hi);
}
void random_uniform(uint64_t seed, uint64_t counter, double* dst, int64_t n, double lo, double hi) {
  uniform_impl(seed, counter, dst, n, lo, hi);
}
void random_normal(uint64_t seed, uint64_t counter, float* dst, int64_t n, double mean,
                   double stddev) {
  normal_impl(seed, counter, dst, n, mean, stddev);
}
void random_normal(uint64_t seed, uint64_t counter, double* dst, int64_t n, double mean,
                   double stddev) {
  normal_impl(seed, counter, dst, n, mean, stddev);
}
void random_truncated_normal(uint64_t seed, uint64_t counter, float* dst, int64_t n, double mean,
                             double stddev) {
  truncated_impl(seed, counter, dst, n, mean, stddev);
}
void random_truncated_normal(uint64_t seed, uint64_t counter, double* dst, int64_t n, double mean,
                             double stddev) {
  truncated_impl(seed, counter, dst, n, mean, stddev);
}

void random_int(uint64_t seed, uint64_t counter, int64_t* dst, int64_t n, int64_t lo, int64_t hi) {
  const unsigned __int128 range = static_cast<unsigned __int128>(hi - lo);
  parallel_for(n, kElementwiseGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const auto r = philox4x32(seed, counter + static_cast<uint64_t>(i) / 2);
      const uint64_t bits = (static_cast<uint64_t>(r[(i % 2) * 2]) << 32) | r[(i % 2) * 2 + 1];
      dst[i] = lo + static_cast<int64_t>((bits * range) >> 64);
    }
  });
}

}  // namespace kiln::kernels
