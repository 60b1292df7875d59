#include "kiln/ops/reduce.h"
#include "src/ops/op_util.h"
#include "src/ops/reduce/reduce_kernel.h"

namespace kiln {
namespace {

class SumOp final : public autograd::Node {
 public:
  std::string_view name() const override { return "sum"; }
  TensorList backward(const Tensor& dy, const autograd::NeedsGrad&) override {
    return {ops_internal::expand_reduced(dy, shape_, dims_)};
  }
  Shape shape_;
  std::vector<int64_t> dims_;
};

}  // namespace

Tensor sum(const Tensor& x, IntList dims, bool keepdim) {
  using namespace ops_internal;
  check_defined("sum", x, "input");
  const std::vector<int64_t> d = normalize_dims(dims, x.dim(), "sum");
  Tensor y = reduce_forward("sum", kernels::ReduceOp::kSum, x, d, keepdim);
  record<SumOp>(y, {x}, [&](SumOp& node) {
    node.shape_ = x.shape();
    node.dims_ = d;
  });
  return y;
}

}  // namespace kiln
