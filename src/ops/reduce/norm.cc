#include "kiln/ops/binary.h"
#include "kiln/ops/reduce.h"
#include "src/ops/op_util.h"
#include "src/ops/reduce/reduce_kernel.h"

namespace kiln {
namespace {

// d||x|| = x / ||x||, and 0 where the norm is 0 (a subgradient).
class NormOp final : public autograd::Node {
 public:
  std::string_view name() const override { return "norm"; }
  TensorList backward(const Tensor& dy, const autograd::NeedsGrad&) override {
    const Tensor& x = saved(x_);
    Tensor n = ops_internal::expand_reduced(saved(y_), x.shape(), dims_);
    Tensor g = ops_internal::expand_reduced(dy, x.shape(), dims_);
    Tensor safe = where(compare(n, 0.0, CompareOp::kGt), n, ones({}, x.dtype()));
    return {mul(g, div(x, safe))};
  }
  std::vector<int64_t> dims_;
  int x_ = -1;
  int y_ = -1;
};

}  // namespace

Tensor norm(const Tensor& x, IntList dims, bool keepdim) {
  using namespace ops_internal;
  check_defined("norm", x, "input");
  const std::vector<int64_t> d = normalize_dims(dims, x.dim(), "norm");
  Tensor y;
  {
    NoGradGuard no_grad;
    y = sqrt(reduce_forward("norm", kernels::ReduceOp::kSumSquares, x, d, keepdim));
  }
  record<NormOp>(y, {x}, [&](NormOp& node) {
    node.dims_ = d;
    node.x_ = node.save(x);
    node.y_ = node.save(y);
  });
  return y;
}

}  // namespace kiln
