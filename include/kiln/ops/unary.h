// Elementwise unary ops. Floating dtypes (f32, f64); each has its backward.
#pragma once

#include <limits>

#include "kiln/tensor/tensor.h"

namespace kiln {

Tensor neg(const Tensor& x);
Tensor abs(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor rsqrt(const Tensor& x);
Tensor square(const Tensor& x);
// x ^ exponent.
Tensor pow(const Tensor& x, double exponent);
Tensor tanh(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor relu(const Tensor& x);
Tensor leaky_relu(const Tensor& x, double negative_slope = 0.01);
// approximate = true is the tanh form (jax.nn.gelu's default, used by the
// papers' code); false is the exact erf form.
Tensor gelu(const Tensor& x, bool approximate = true);
Tensor silu(const Tensor& x);
// log(1 + exp(beta x)) / beta, and x itself where beta x > threshold.
Tensor softplus(const Tensor& x, double beta = 1.0, double threshold = 20.0);
Tensor clamp(const Tensor& x, double lo = -std::numeric_limits<double>::infinity(),
             double hi = std::numeric_limits<double>::infinity());
Tensor add_scalar(const Tensor& x, double value);
Tensor mul_scalar(const Tensor& x, double value);

}  // namespace kiln
