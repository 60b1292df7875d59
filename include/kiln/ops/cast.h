// Dtype conversion. Between floating dtypes the gradient is cast back; to
// and from integer dtypes there is no gradient.
#pragma once

#include "kiln/tensor/tensor.h"

namespace kiln {

// x itself if it already has `dtype`.
Tensor to_dtype(const Tensor& x, DType dtype);

}  // namespace kiln
