#include "kiln/nn/layers.h"

namespace kiln::nn {

LayerNorm::LayerNorm(const LayerNormOptions& options) : options_(options) {
  KILN_CHECK(options.size > 0, "LayerNorm: size must be positive, got ", options.size);
  if (options.scale) gamma_ = register_parameter("scale", ones({options.size}));
  if (options.offset) beta_ = register_parameter("offset", zeros({options.size}));
}

Tensor LayerNorm::forward(const Tensor& x) { return layer_norm(x, gamma_, beta_, options_.eps); }

}  // namespace kiln::nn
