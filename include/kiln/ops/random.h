// Random factories. Every call draws from an explicit counter-based
// Generator; element i depends only on (seed, counter, i).
#pragma once

#include "kiln/tensor/generator.h"
#include "kiln/tensor/tensor.h"

namespace kiln {

Tensor uniform(IntList shape, double lo, double hi, Generator& gen, DType dtype = DType::kF32);
Tensor normal(IntList shape, double mean, double stddev, Generator& gen, DType dtype = DType::kF32);
// mean + stddev * z with z standard normal truncated to [-2, 2] (redrawn,
// not clipped), as jax.random.truncated_normal and Haiku's TruncatedNormal;
// the result's stddev is about 0.88 stddev.
Tensor truncated_normal(IntList shape, double mean, double stddev, Generator& gen,
                        DType dtype = DType::kF32);
// 1 with probability p, else 0.
Tensor bernoulli(IntList shape, double p, Generator& gen, DType dtype = DType::kF32);
// Integers uniform in [lo, hi).
Tensor randint(IntList shape, int64_t lo, int64_t hi, Generator& gen, DType dtype = DType::kI64);

}  // namespace kiln
