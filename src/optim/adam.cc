// Adam and AdamW: one kernel, coupled (L2) or decoupled weight decay.
#include <cmath>

#include "kernels/optim.h"
#include "kiln/optim/optimizer.h"
#include "src/optim/optim_util.h"

namespace kiln::optim {
namespace {

template <class Options>
const Options& validated(const char* who, const Options& o) {
  internal::check_unit_interval(who, "beta1", o.beta1);
  internal::check_unit_interval(who, "beta2", o.beta2);
  internal::check_nonnegative(who, "eps", o.eps);
  internal::check_nonnegative(who, "weight_decay", o.weight_decay);
  return o;
}

template <class T>
void adam_kernel(const Tensor& param, const Tensor& grad, Tensor* slots,
                 const kernels::AdamHyper& h) {
  kernels::adam_update(param.data<T>(), grad.data<T>(), slots[0].data<T>(), slots[1].data<T>(),
                       param.numel(), h);
}

template <class Options>
void adam_step(const Options& o, bool decoupled, const Tensor& param, const Tensor& grad,
               Tensor* slots, double lr, double weight_decay, int64_t step) {
  const double t = static_cast<double>(step);
  const kernels::AdamHyper h{lr,
                             o.beta1,
                             o.beta2,
                             o.eps,
                             weight_decay,
                             decoupled,
                             1.0 - std::pow(o.beta1, t),
                             1.0 - std::pow(o.beta2, t)};
  if (param.dtype() == DType::kF32) {
    adam_kernel<float>(param, grad, slots, h);
  } else {
    adam_kernel<double>(param, grad, slots, h);
  }
}

}  // namespace

Adam::Adam(ParamGroups groups, const AdamOptions& options)
    : Optimizer("adam", std::move(groups), validated("adam", options).weight_decay,
                {"exp_avg", "exp_avg_sq"}),
      options_(options) {}

void Adam::update(const ParamRef& param, const Tensor& grad, Tensor* slots, double lr,
                  double weight_decay, int64_t step) {
  adam_step(options_, /*decoupled=*/false, param.tensor, grad, slots, lr, weight_decay, step);
}

AdamW::AdamW(ParamGroups groups, const AdamWOptions& options)
    : Optimizer("adamw", std::move(groups), validated("adamw", options).weight_decay,
                {"exp_avg", "exp_avg_sq"}),
      options_(options) {}

void AdamW::update(const ParamRef& param, const Tensor& grad, Tensor* slots, double lr,
                   double weight_decay, int64_t step) {
  adam_step(options_, /*decoupled=*/true, param.tensor, grad, slots, lr, weight_decay, step);
}

}  // namespace kiln::optim
