#include <cmath>

#include "kernels/optim.h"
#include "kiln/optim/optimizer.h"
#include "src/optim/optim_util.h"

namespace kiln::optim {
namespace {

const LambOptions& validated(const LambOptions& o) {
  internal::check_unit_interval("lamb", "beta1", o.beta1);
  internal::check_unit_interval("lamb", "beta2", o.beta2);
  internal::check_nonnegative("lamb", "eps", o.eps);
  internal::check_nonnegative("lamb", "weight_decay", o.weight_decay);
  return o;
}

template <class T>
void lamb_kernel(const Tensor& param, const Tensor& grad, Tensor* slots,
                 const kernels::LambHyper& h) {
  kernels::lamb_update(param.data<T>(), grad.data<T>(), slots[0].data<T>(), slots[1].data<T>(),
                       param.numel(), h);
}

}  // namespace

Lamb::Lamb(ParamGroups groups, const LambOptions& options)
    : Optimizer("lamb", std::move(groups), validated(options).weight_decay,
                {"exp_avg", "exp_avg_sq"}),
      options_(options) {}

void Lamb::update(const ParamRef& param, const Tensor& grad, Tensor* slots, double lr,
                  double weight_decay, int64_t step) {
  const double t = static_cast<double>(step);
  const kernels::LambHyper h{lr,
                             options_.beta1,
                             options_.beta2,
                             options_.eps,
                             weight_decay,
                             1.0 - std::pow(options_.beta1, t),
                             1.0 - std::pow(options_.beta2, t)};
  if (param.tensor.dtype() == DType::kF32) {
    lamb_kernel<float>(param.tensor, grad, slots, h);
  } else {
    lamb_kernel<double>(param.tensor, grad, slots, h);
  }
}

}  // namespace kiln::optim
