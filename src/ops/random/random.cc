// Random factories: each reserves the Philox blocks it reads from the
// generator, so consecutive calls never reuse random bits.
#include "kiln/ops/random.h"

#include "kernels/random.h"
#include "kiln/ops/binary.h"
#include "kiln/ops/cast.h"
#include "src/ops/op_util.h"

namespace kiln {
namespace {

uint64_t blocks_for(int64_t n, int64_t per_block) {
  return static_cast<uint64_t>((n + per_block - 1) / per_block);
}

// Draws in f32 or f64 with `fill`, then converts to the requested dtype.
template <class Fill>
Tensor draw(const char* op, IntList shape, DType dtype, Fill fill) {
  KILN_CHECK(is_floating(dtype), op, ": needs a floating dtype, got ", dtype_name(dtype));
  const DType work = dtype == DType::kF64 ? DType::kF64 : DType::kF32;
  Tensor t = Tensor::empty(shape, work);
  if (work == DType::kF64) {
    fill(t.data<double>(), t.numel());
  } else {
    fill(t.data<float>(), t.numel());
  }
  return to_dtype(t, dtype);
}

}  // namespace

Tensor uniform(IntList shape, double lo, double hi, Generator& gen, DType dtype) {
  KILN_CHECK(lo <= hi, "uniform: lo ", lo, " is above hi ", hi);
  const int64_t n = shape_numel(shape);
  const uint64_t counter = gen.reserve(blocks_for(n, dtype == DType::kF64 ? 2 : 4));
  return draw("uniform", shape, dtype, [&](auto* dst, int64_t count) {
    kernels::random_uniform(gen.seed(), counter, dst, count, lo, hi);
  });
}

Tensor normal(IntList shape, double mean, double stddev, Generator& gen, DType dtype) {
  KILN_CHECK(stddev >= 0, "normal: stddev must be >= 0, got ", stddev);
  const int64_t n = shape_numel(shape);
  const uint64_t counter = gen.reserve(blocks_for(n, 2));
  return draw("normal", shape, dtype, [&](auto* dst, int64_t count) {
    kernels::random_normal(gen.seed(), counter, dst, count, mean, stddev);
  });
}

Tensor truncated_normal(IntList shape, double mean, double stddev, Generator& gen, DType dtype) {
  KILN_CHECK(stddev >= 0, "truncated_normal: stddev must be >= 0, got ", stddev);
  const int64_t n = shape_numel(shape);
  const uint64_t counter = gen.reserve(static_cast<uint64_t>(n) * kernels::kTruncatedDraws);
  return draw("truncated_normal", shape, dtype, [&](auto* dst, int64_t count) {
    kernels::random_truncated_normal(gen.seed(), counter, dst, count, mean, stddev);
  });
}

Tensor bernoulli(IntList shape, double p, Generator& gen, DType dtype) {
  KILN_CHECK(p >= 0 && p <= 1, "bernoulli: p must be in [0, 1], got ", p);
  Tensor u = uniform(shape, 0.0, 1.0, gen, DType::kF64);
  return to_dtype(compare(u, p, CompareOp::kLt), dtype);
}

Tensor randint(IntList shape, int64_t lo, int64_t hi, Generator& gen, DType dtype) {
  KILN_CHECK(lo < hi, "randint: empty range [", lo, ", ", hi, ")");
  KILN_CHECK(dtype == DType::kI64 || dtype == DType::kI32, "randint: needs an integer dtype, got ",
             dtype_name(dtype));
  Tensor t = Tensor::empty(shape, DType::kI64);
  const uint64_t counter = gen.reserve(blocks_for(t.numel(), 2));
  kernels::random_int(gen.seed(), counter, t.data<int64_t>(), t.numel(), lo, hi);
  return to_dtype(t, dtype);
}

}  // namespace kiln
