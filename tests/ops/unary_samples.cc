// Gradient-check samples for the unary ops.
#include "support/gradcheck.h"

namespace kiln::testing {
namespace {

TensorList one(IntList shape, DType dtype, Generator& gen, double lo, double hi) {
  return {random_tensor(shape, dtype, gen, lo, hi)};
}

// A sample over a (3, 5) input in [lo, hi).
#define UNARY_SAMPLE(name, lo, hi, expr)                  \
  KILN_OP_SAMPLE({.op = #name,                            \
                  .variant = "3x5",                       \
                  .inputs =                               \
                      [](DType d, Generator& g) {         \
                        return one({3, 5}, d, g, lo, hi); \
                      },                                  \
                  .apply = [](const TensorList& in) { return expr; }})

UNARY_SAMPLE(neg, -2, 2, neg(in[0]));
UNARY_SAMPLE(exp, -2, 2, exp(in[0]));
UNARY_SAMPLE(log, 0.2, 3, log(in[0]));
UNARY_SAMPLE(sqrt, 0.2, 3, sqrt(in[0]));
UNARY_SAMPLE(rsqrt, 0.2, 3, rsqrt(in[0]));
UNARY_SAMPLE(square, -2, 2, square(in[0]));
UNARY_SAMPLE(pow, 0.2, 3, pow(in[0], 2.5));
UNARY_SAMPLE(tanh, -3, 3, tanh(in[0]));
UNARY_SAMPLE(sigmoid, -4, 4, sigmoid(in[0]));
UNARY_SAMPLE(silu, -4, 4, silu(in[0]));
UNARY_SAMPLE(softplus, -4, 4, softplus(in[0], 1.5, 20.0));
UNARY_SAMPLE(add_scalar, -2, 2, add_scalar(in[0], 0.75));
UNARY_SAMPLE(mul_scalar, -2, 2, mul_scalar(in[0], -1.25));

// Ops with a kink at 0 (or at the clamp bounds) get inputs away from it.
#define KINK_SAMPLE(name, expr)                                       \
  KILN_OP_SAMPLE({.op = #name,                                        \
                  .variant = "3x5 away from the kink",                \
                  .inputs = [](DType d, Generator& g) -> TensorList { \
                    return {away_from_zero({3, 5}, d, g)};            \
                  },                                                  \
                  .apply = [](const TensorList& in) { return expr; }})

KINK_SAMPLE(abs, abs(in[0]));
KINK_SAMPLE(relu, relu(in[0]));
KINK_SAMPLE(leaky_relu, leaky_relu(in[0], 0.2));
KINK_SAMPLE(clamp, clamp(mul_scalar(in[0], 2.0), -1.1, 0.9));

KILN_OP_SAMPLE({.op = "gelu",
                .variant = "tanh approximation",
                .inputs =
                    [](DType d, Generator& g) {
                      return one({4, 7}, d, g, -4, 4);
                    },
                .apply = [](const TensorList& in) { return gelu(in[0], true); }});
KILN_OP_SAMPLE({.op = "gelu",
                .variant = "exact",
                .inputs =
                    [](DType d, Generator& g) {
                      return one({4, 7}, d, g, -4, 4);
                    },
                .apply = [](const TensorList& in) { return gelu(in[0], false); }});

}  // namespace
}  // namespace kiln::testing
