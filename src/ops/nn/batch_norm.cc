#include <vector>

#include "kiln/ops/binary.h"
#include "kiln/ops/nn.h"
#include "kiln/ops/reduce.h"
#include "kiln/ops/unary.h"
#include "src/ops/op_util.h"

namespace kiln {
namespace {

void check_param(const Tensor& x, const Tensor& p, const char* what) {
  if (!p.defined()) return;
  KILN_CHECK(p.dtype() == x.dtype(), "batch_norm: ", what, " has dtype ", dtype_name(p.dtype()),
             " but x has ", dtype_name(x.dtype()));
  KILN_CHECK(p.dim() == 1 && p.size(0) == x.size(-1), "batch_norm: ", what, " must have shape ",
             shape_str({x.size(-1)}), " to match x ", shape_str(x.shape()), ", got ",
             shape_str(p.shape()));
}

}  // namespace

// Composite, two-pass (the mean first, then the mean square of x - mean, so
// large offsets do not cancel); autodiff differentiates through the batch
// statistics, as training-mode batch norm must.
Tensor batch_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps) {
  ops_internal::check_defined("batch_norm", x, "x");
  ops_internal::check_floating("batch_norm", x);
  KILN_CHECK(x.dim() >= 2, "batch_norm: needs x (N, ..., C), got ", shape_str(x.shape()));
  KILN_CHECK(x.numel() > 0, "batch_norm: needs at least one element per channel, got x ",
             shape_str(x.shape()));
  KILN_CHECK(eps >= 0, "batch_norm: eps must be >= 0, got ", eps);
  check_param(x, gamma, "gamma");
  check_param(x, beta, "beta");
  std::vector<int64_t> dims(static_cast<size_t>(x.dim() - 1));
  for (size_t i = 0; i < dims.size(); ++i) dims[i] = static_cast<int64_t>(i);
  const Tensor centred = sub(x, mean(x, dims, true));
  const Tensor var = mean(square(centred), dims, true);
  Tensor y = mul(centred, rsqrt(add_scalar(var, eps)));
  if (gamma.defined()) y = mul(y, gamma);
  if (beta.defined()) y = add(y, beta);
  return y;
}

}  // namespace kiln
