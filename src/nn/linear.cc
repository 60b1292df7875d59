#include <cmath>

#include "kiln/nn/init.h"
#include "kiln/nn/layers.h"
#include "kiln/ops/binary.h"
#include "kiln/ops/linalg.h"
#include "kiln/ops/shape.h"

namespace kiln::nn {

Linear::Linear(const LinearOptions& options, Generator& gen) : options_(options) {
  KILN_CHECK(options.in_features > 0 && options.out_features > 0,
             "Linear: in_features and out_features must be positive, got ", options.in_features,
             " and ", options.out_features);
  Tensor w = Tensor::empty({options.in_features, options.out_features});
  if (options.weight_init) {
    options.weight_init(w, gen);
  } else {
    init::truncated_normal_(w, 0.0, 1.0 / std::sqrt(static_cast<double>(options.in_features)), gen);
  }
  weight_ = register_parameter("weight", w);
  if (options.bias) {
    Tensor b = zeros({options.out_features});
    if (options.bias_init) options.bias_init(b, gen);
    bias_ = register_parameter("bias", b);
  }
}

Tensor Linear::forward(const Tensor& x) {
  KILN_CHECK(x.dim() >= 1 && x.size(-1) == options_.in_features, "Linear: input of shape ",
             shape_str(x.shape()), " does not end in in_features ", options_.in_features);
  // One GEMM over all leading dims.
  Shape out_shape = x.shape();
  out_shape.back() = options_.out_features;
  Tensor y = matmul(reshape(x, {-1, options_.in_features}), weight_);
  if (bias_.defined()) y = add(y, bias_);
  return reshape(y, out_shape);
}

}  // namespace kiln::nn
