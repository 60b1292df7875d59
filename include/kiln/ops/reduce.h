// Reductions over any set of dims. An empty `dims` reduces over all dims.
// Negative dims count from the end. Sums are computed in a fixed order, so
// results do not depend on the thread count.
#pragma once

#include "kiln/tensor/tensor.h"

namespace kiln {

Tensor sum(const Tensor& x, IntList dims = {}, bool keepdim = false);
Tensor mean(const Tensor& x, IntList dims = {}, bool keepdim = false);
// The gradient of max/min is shared equally between tied maxima.
Tensor max(const Tensor& x, IntList dims = {}, bool keepdim = false);
Tensor min(const Tensor& x, IntList dims = {}, bool keepdim = false);
// Variance with `correction` subtracted from the count (0: population, 1: sample).
Tensor var(const Tensor& x, IntList dims = {}, bool keepdim = false, int64_t correction = 0);
Tensor logsumexp(const Tensor& x, IntList dims = {}, bool keepdim = false);
// L2 norm.
Tensor norm(const Tensor& x, IntList dims = {}, bool keepdim = false);
// Sums a broadcast tensor down to `shape` (the reverse of expand).
Tensor sum_to(const Tensor& x, IntList shape);
// Index of the largest element along `dim` (i64, no gradient).
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim = false);

}  // namespace kiln
