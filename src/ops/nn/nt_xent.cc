#include <vector>

#include "kiln/ops/binary.h"
#include "kiln/ops/linalg.h"
#include "kiln/ops/nn.h"
#include "kiln/ops/reduce.h"
#include "kiln/ops/shape.h"
#include "kiln/ops/unary.h"
#include "src/ops/op_util.h"

namespace kiln {

// Composite: cosine similarities as a matmul of L2-normalised rows, the
// diagonal (self-similarity) pushed to -1e9 so it drops out of the softmax,
// and the fused cross-entropy against each anchor's other view.
Tensor nt_xent(const Tensor& z1, const Tensor& z2, double temperature, Tensor* logits_out) {
  ops_internal::check_defined("nt_xent", z1, "z1");
  ops_internal::check_defined("nt_xent", z2, "z2");
  ops_internal::check_floating("nt_xent", z1);
  KILN_CHECK(z1.dim() == 2 && z1.shape() == z2.shape() && z1.size(0) > 0 && z1.size(1) > 0,
             "nt_xent: needs two non-empty (B, D) views of the same shape, got ",
             shape_str(z1.shape()), " and ", shape_str(z2.shape()));
  KILN_CHECK(z1.dtype() == z2.dtype(), "nt_xent: z1 is ", dtype_name(z1.dtype()), " but z2 is ",
             dtype_name(z2.dtype()));
  KILN_CHECK(temperature > 0, "nt_xent: temperature must be positive, got ", temperature);
  const int64_t b = z1.size(0);
  const int64_t n = 2 * b;
  const Tensor z = concat({z1, z2}, 0);  // (2B, D)
  // Rows to unit length; the floor keeps a zero row finite.
  const Tensor unit = mul(z, rsqrt(add_scalar(sum(square(z), {1}, true), 1e-12)));
  const Tensor sim = matmul(unit, transpose(unit, 0, 1));  // (2B, 2B) cosine similarities
  std::vector<double> diagonal(static_cast<size_t>(n * n), 0.0);
  for (int64_t i = 0; i < n; ++i) diagonal[static_cast<size_t>(i * n + i)] = -1e9;
  const Tensor logits = add(mul_scalar(sim, 1.0 / temperature),
                            from_vector(diagonal, {n, n}, z.dtype()));  // (2B, 2B)
  // Anchor i's positive is its other view: i + B (mod 2B).
  std::vector<int64_t> positives(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) positives[static_cast<size_t>(i)] = (i + b) % n;
  if (logits_out != nullptr) *logits_out = logits;
  return cross_entropy(logits, from_vector(positives, {n}));
}

}  // namespace kiln
