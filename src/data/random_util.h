// Counter-based random helpers for the data layer: keys derived by Philox
// rounds, so every draw is a pure function of its coordinates.
#pragma once

#include <cstdint>

#include "kernels/random.h"
#include "kiln/tensor/generator.h"

namespace kiln::data::detail {

// Stream tags: different wrapper types never share random bits.
inline constexpr uint64_t kShuffleTag = 0x53485546464c45ull;  // "SHUFFLE"
inline constexpr uint64_t kMapTag = 0x4d4150ull;              // "MAP"
inline constexpr uint64_t kSyntheticTag = 0x53594e5448ull;    // "SYNTH"

// 64 bits of Philox block `counter` under `key`: a new key that depends on
// both (Philox is a bijection of the counter for a fixed key).
inline uint64_t derive_key(uint64_t key, uint64_t counter) {
  const auto r = kernels::philox4x32(key, counter);
  return (static_cast<uint64_t>(r[1]) << 32) | r[0];
}

// Uniform integer in [0, n) from 64 random bits by multiply-shift (bias below
// n / 2^64).
inline uint64_t uniform_below(uint64_t bits, uint64_t n) {
  return static_cast<uint64_t>((static_cast<unsigned __int128>(bits) * n) >> 64);
}

// Uniform integer in [0, n) from the generator's next Philox block.
inline int64_t draw_below(Generator& gen, int64_t n) {
  const auto r = kernels::philox4x32(gen.seed(), gen.reserve(1));
  const uint64_t bits = (static_cast<uint64_t>(r[1]) << 32) | r[0];
  return static_cast<int64_t>(uniform_below(bits, static_cast<uint64_t>(n)));
}

// Uniform double in [lo, hi) from 53 bits of the generator's next Philox
// block.
inline double draw_uniform(Generator& gen, double lo, double hi) {
  const auto r = kernels::philox4x32(gen.seed(), gen.reserve(1));
  const uint64_t bits = (static_cast<uint64_t>(r[1]) << 32) | r[0];
  return lo + (hi - lo) * (static_cast<double>(bits >> 11) * 0x1.0p-53);
}

}  // namespace kiln::data::detail
