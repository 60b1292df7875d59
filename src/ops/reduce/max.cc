#include "kiln/ops/binary.h"
#include "kiln/ops/cast.h"
#include "kiln/ops/reduce.h"
#include "src/ops/op_util.h"
#include "src/ops/reduce/reduce_kernel.h"

namespace kiln::ops_internal {

// Gradient of max and min: shared equally between the tied extrema.
class ExtremumOp final : public autograd::Node {
 public:
  std::string_view name() const override { return name_; }
  TensorList backward(const Tensor& dy, const autograd::NeedsGrad&) override {
    const Tensor& x = saved(x_);
    Tensor hit = eq(x, expand_reduced(saved(y_), x.shape(), dims_));
    Tensor count = sum(to_dtype(hit, x.dtype()), dims_, /*keepdim=*/true);
    Tensor share = div(expand_reduced(dy, x.shape(), dims_), count);
    return {where(hit, share, zeros({}, x.dtype()))};
  }
  const char* name_ = "";
  std::vector<int64_t> dims_;
  int x_ = -1;
  int y_ = -1;
};

Tensor extremum(const char* name, kernels::ReduceOp op, const Tensor& x, IntList dims,
                bool keepdim) {
  check_defined(name, x, "input");
  const std::vector<int64_t> d = normalize_dims(dims, x.dim(), name);
  Tensor y = reduce_forward(name, op, x, d, keepdim);
  record<ExtremumOp>(y, {x}, [&](ExtremumOp& node) {
    node.name_ = name;
    node.dims_ = d;
    node.x_ = node.save(x);
    node.y_ = node.save(y);
  });
  return y;
}

}  // namespace kiln::ops_internal

namespace kiln {

Tensor max(const Tensor& x, IntList dims, bool keepdim) {
  return ops_internal::extremum("max", kernels::ReduceOp::kMax, x, dims, keepdim);
}

}  // namespace kiln
