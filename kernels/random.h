// Philox4x32-10 counter-based random numbers (Salmon et al., "Parallel
// random numbers: as easy as 1, 2, 3"). Element i of a fill reads block
// (counter + i / 4), lane i % 4, so any split of the work across threads
// produces the same bits.
#pragma once

#include <array>
#include <cstdint>

namespace kiln::kernels {

// The four 32-bit outputs of block `counter` under key `seed`.
std::array<uint32_t, 4> philox4x32(uint64_t seed, uint64_t counter);

// Uniform [0, 1) floats with 24 random bits (doubles with 53) per element.
void random_uniform(uint64_t seed, uint64_t counter, float* dst, int64_t n, double lo, double hi);
void random_uniform(uint64_t seed, uint64_t counter, double* dst, int64_t n, double lo, double hi);
// Standard normal via Box-Muller: element pairs (2j, 2j + 1) share block
// counter + j.
void random_normal(uint64_t seed, uint64_t counter, float* dst, int64_t n, double mean,
                   double stddev);
void random_normal(uint64_t seed, uint64_t counter, double* dst, int64_t n, double mean,
                   double stddev);
// Normal truncated to [-2, 2] before scaling: each element redraws from its
// own sequence of blocks (counter + i * kTruncatedDraws + attempt) until
// accepted (acceptance 95%; kTruncatedDraws attempts make a failure
// astronomically unlikely, and the last draw is clipped then).
inline constexpr int kTruncatedDraws = 16;
void random_truncated_normal(uint64_t seed, uint64_t counter, float* dst, int64_t n, double mean,
                             double stddev);
void random_truncated_normal(uint64_t seed, uint64_t counter, double* dst, int64_t n, double mean,
                             double stddev);
// Integers uniform in [lo, hi), by multiply-shift on 64 random bits.
void random_int(uint64_t seed, uint64_t counter, int64_t* dst, int64_t n, int64_t lo, int64_t hi);

}  // namespace kiln::kernels
