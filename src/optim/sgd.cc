#include "kernels/optim.h"
#include "kiln/core/error.h"
#include "kiln/optim/optimizer.h"
#include "src/optim/optim_util.h"

namespace kiln::optim {
namespace {

const SgdOptions& validated(const SgdOptions& o) {
  internal::check_unit_interval("sgd", "momentum", o.momentum);
  internal::check_closed_unit_interval("sgd", "dampening", o.dampening);
  internal::check_nonnegative("sgd", "weight_decay", o.weight_decay);
  KILN_CHECK(!o.nesterov || o.momentum > 0, "sgd: nesterov needs momentum > 0 (momentum is ",
             o.momentum, ")");
  return o;
}

std::vector<std::string> sgd_slots(const SgdOptions& o) {
  if (o.momentum > 0) return {"momentum"};
  return {};
}

template <class T>
void sgd_kernel(const Tensor& param, const Tensor& grad, const Tensor* momentum,
                const kernels::SgdHyper& h) {
  kernels::sgd_update(param.data<T>(), grad.data<T>(),
                      momentum != nullptr ? momentum->data<T>() : nullptr, param.numel(), h);
}

}  // namespace

Sgd::Sgd(ParamGroups groups, const SgdOptions& options)
    : Optimizer("sgd", std::move(groups), validated(options).weight_decay, sgd_slots(options)),
      options_(options) {}

void Sgd::update(const ParamRef& param, const Tensor& grad, Tensor* slots, double lr,
                 double weight_decay, int64_t /*step*/) {
  const kernels::SgdHyper h{lr, options_.momentum, options_.dampening, weight_decay,
                            options_.nesterov};
  const Tensor* momentum = options_.momentum > 0 ? &slots[0] : nullptr;
  if (param.tensor.dtype() == DType::kF32) {
    sgd_kernel<float>(param.tensor, grad, momentum, h);
  } else {
    sgd_kernel<double>(param.tensor, grad, momentum, h);
  }
}

}  // namespace kiln::optim
