// Spectral normalisation (Miyato et al., 2018): a weight divided by an
// estimate of its largest singular value, kept by power iteration.
//
// The weight is seen as a matrix W (fan_in, out) (kiln's layouts put the
// output units last: linear (in, out), conv (..., in, out)). The persistent
// vector u (out) is a buffer, so checkpoints save it and resume restores
// it. sigma = ||W u|| with u held constant in the gradient (as PyTorch's
// spectral_norm); in training mode each forward first takes one power
// iteration, u <- normalize(W^T normalize(W u)); in eval mode u is left
// alone, so evaluation changes nothing.
#pragma once

#include "kiln/nn/module.h"
#include "kiln/tensor/generator.h"

namespace kiln::nn {

struct SpectralNormOptions {
  int64_t out_features = 0;  // the weight's last dim
  double eps = 1e-12;        // normalize(x) = x / max(||x||, eps)
  DType dtype = DType::kF32;
};

class SpectralNorm : public Module {
 public:
  // u starts as a normalised Gaussian draw.
  SpectralNorm(const SpectralNormOptions& options, Generator& gen);
  // weight (..., out) -> weight / sigma, same shape.
  Tensor forward(const Tensor& weight);
  // The current estimate of the top singular value (no power iteration).
  double sigma(const Tensor& weight) const;
  const Tensor& u() const { return u_; }

 private:
  SpectralNormOptions options_;
  Tensor u_;  // (out)
};

}  // namespace kiln::nn
