#include "kiln/nn/spectral_norm.h"

#include "kiln/autograd/grad_mode.h"
#include "kiln/core/error.h"
#include "kiln/ops/binary.h"
#include "kiln/ops/inplace.h"
#include "kiln/ops/linalg.h"
#include "kiln/ops/random.h"
#include "kiln/ops/reduce.h"
#include "kiln/ops/shape.h"

namespace kiln::nn {
namespace {

// x / max(||x||, eps), x a vector (grad mode off).
Tensor normalize(const Tensor& x, double eps) {
  const double n = norm(x).item<double>();
  return mul_scalar(x, 1.0 / std::max(n, eps));
}

}  // namespace

SpectralNorm::SpectralNorm(const SpectralNormOptions& options, Generator& gen) : options_(options) {
  KILN_CHECK(options.out_features > 0, "SpectralNorm: out_features must be positive, got ",
             options.out_features);
  NoGradGuard no_grad;
  u_ = register_buffer(
      "u", normalize(normal({options.out_features}, 0.0, 1.0, gen, options.dtype), options.eps));
}

Tensor SpectralNorm::forward(const Tensor& weight) {
  const int64_t out = options_.out_features;
  KILN_CHECK(weight.dim() >= 2 && weight.size(-1) == out, "SpectralNorm: weight of shape ",
             shape_str(weight.shape()), " does not end in out_features ", out);
  const Tensor w = reshape(weight, {-1, out});  // (K, O)
  if (is_training()) {
    NoGradGuard no_grad;
    const Tensor wd = w.detach();
    const Tensor v = normalize(reshape(matmul(wd, reshape(u_, {out, 1})), {-1}), options_.eps);
    const Tensor u =
        normalize(reshape(matmul(transpose(wd, 0, 1), reshape(v, {-1, 1})), {-1}), options_.eps);
    copy_(u_, u);
  }
  // sigma = ||W u|| (u constant: the gradient is v u^T, v = W u / sigma).
  const Tensor sigma = norm(matmul(w, reshape(u_.detach(), {out, 1})));  // ()
  return div(weight, sigma);
}

double SpectralNorm::sigma(const Tensor& weight) const {
  NoGradGuard no_grad;
  const int64_t out = options_.out_features;
  return norm(matmul(reshape(weight.detach(), {-1, out}), reshape(u_, {out, 1}))).item<double>();
}

}  // namespace kiln::nn
