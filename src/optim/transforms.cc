#include "kiln/optim/transforms.h"

#include <cmath>

#include "kernels/optim.h"
#include "kiln/autograd/grad_mode.h"
#include "kiln/core/error.h"
#include "kiln/ops/inplace.h"
#include "src/optim/optim_util.h"

namespace kiln::optim {
namespace {

void check_agc_options(const AgcOptions& o) {
  KILN_CHECK(std::isfinite(o.clipping) && o.clipping > 0, "adaptive_grad_clip: clipping is ",
             o.clipping, "; it must be finite and > 0");
  KILN_CHECK(std::isfinite(o.eps) && o.eps >= 0, "adaptive_grad_clip: eps is ", o.eps,
             "; it must be finite and >= 0");
}

double group_weight_decay(const ParamGroup& group, double weight_decay) {
  return group.weight_decay.value_or(weight_decay);
}

void check_weight_decay(const char* who, double weight_decay) {
  internal::check_nonnegative(who, "weight_decay", weight_decay);
}

// Scales every gradient by `factor`.
void scale_grads(const ParamGroups& groups, double factor) {
  NoGradGuard no_grad;
  for (const ParamRef& p : groups.params()) {
    Tensor grad = p.tensor.grad();
    if (grad.defined()) mul_(grad, factor);
  }
}

template <class T>
void unit_norms(const T* x, int64_t numel, const internal::UnitLayout& layout, T* dst) {
  if (numel == 0) {
    dst[0] = 0;
    return;
  }
  kernels::reduce(kernels::ReduceOp::kSumSquares, x, dst, 1, layout.rows, layout.cols);
  for (int64_t j = 0; j < layout.cols; ++j) dst[j] = std::sqrt(dst[j]);
}

}  // namespace

GradStats internal::grad_stats(std::string_view who, const ParamGroups& groups) {
  double sum_squares = 0;
  bool finite = true;
  for (const ParamRef& p : groups.params()) {
    const Tensor grad = internal::kernel_grad(who, p);
    if (!grad.defined()) continue;
    const kernels::SumSquares s =
        grad.dtype() == DType::kF32
            ? kernels::sum_squares_finite(grad.data<float>(), grad.numel())
            : kernels::sum_squares_finite(grad.data<double>(), grad.numel());
    sum_squares += s.sum_squares;
    finite = finite && s.finite;
  }
  return GradStats{std::sqrt(sum_squares), finite};
}

GradStats grad_stats(const ParamGroups& groups) {
  return internal::grad_stats("grad_stats", groups);
}

Tensor unitwise_norm(const Tensor& x) {
  internal::check_kernel_tensor("unitwise_norm", "x", x);
  const internal::UnitLayout layout = internal::unit_layout(x.shape());
  Tensor out = Tensor::empty(layout.norm_shape, x.dtype());
  if (x.dtype() == DType::kF32) {
    unit_norms(x.data<float>(), x.numel(), layout, out.data<float>());
  } else {
    unit_norms(x.data<double>(), x.numel(), layout, out.data<double>());
  }
  return out;
}

void adaptive_grad_clip(const Tensor& param, const Tensor& grad, const AgcOptions& options) {
  check_agc_options(options);
  internal::check_kernel_tensor("adaptive_grad_clip", "param", param);
  internal::check_kernel_tensor("adaptive_grad_clip", "grad", grad);
  KILN_CHECK(param.dtype() == grad.dtype() && param.shape() == grad.shape(),
             "adaptive_grad_clip: param is ", dtype_name(param.dtype()), " ",
             shape_str(param.shape()), " but grad is ", dtype_name(grad.dtype()), " ",
             shape_str(grad.shape()));
  const internal::UnitLayout layout = internal::unit_layout(param.shape());
  if (param.dtype() == DType::kF32) {
    kernels::agc_clip(param.data<float>(), grad.data<float>(), layout.rows, layout.cols,
                      options.clipping, options.eps);
  } else {
    kernels::agc_clip(param.data<double>(), grad.data<double>(), layout.rows, layout.cols,
                      options.clipping, options.eps);
  }
}

void adaptive_grad_clip(const ParamGroups& groups, const AgcOptions& options) {
  check_agc_options(options);
  for (const ParamRef& p : groups.params()) {
    if (!groups.group_of(p).agc) continue;
    const Tensor grad = internal::kernel_grad("adaptive_grad_clip", p);
    if (grad.defined()) adaptive_grad_clip(p.tensor, grad, options);
  }
}

double clip_by_global_norm(const ParamGroups& groups, double max_norm) {
  KILN_CHECK(std::isfinite(max_norm) && max_norm > 0, "clip_by_global_norm: max_norm is ", max_norm,
             "; it must be finite and > 0");
  const GradStats stats = internal::grad_stats("clip_by_global_norm", groups);
  // Non-finite gradients are left as they are: the optimizer skips the step.
  if (stats.finite && stats.norm > max_norm) scale_grads(groups, max_norm / stats.norm);
  return stats.norm;
}

void add_weight_decay(const ParamGroups& groups, double weight_decay) {
  check_weight_decay("add_weight_decay", weight_decay);
  NoGradGuard no_grad;
  for (const ParamRef& p : groups.params()) {
    const double wd = group_weight_decay(groups.group_of(p), weight_decay);
    const Tensor grad = internal::kernel_grad("add_weight_decay", p);
    if (grad.defined() && wd != 0) add_(grad, p.tensor, wd);
  }
}

void decoupled_weight_decay(const ParamGroups& groups, double lr, double weight_decay) {
  check_weight_decay("decoupled_weight_decay", weight_decay);
  internal::check_nonnegative("decoupled_weight_decay", "lr", lr);
  NoGradGuard no_grad;
  for (const ParamRef& p : groups.params()) {
    const ParamGroup& group = groups.group_of(p);
    const double wd = group_weight_decay(group, weight_decay);
    if (wd != 0 && p.tensor.grad().defined()) mul_(p.tensor, 1.0 - lr * group.lr_mult * wd);
  }
}

AdaptiveGradClip::AdaptiveGradClip(const AgcOptions& options) : options_(options) {
  check_agc_options(options_);
}

void AdaptiveGradClip::apply(const ParamGroups& groups, const GradStats* /*incoming*/) {
  adaptive_grad_clip(groups, options_);
}

ClipByGlobalNorm::ClipByGlobalNorm(double max_norm) : max_norm_(max_norm) {
  KILN_CHECK(std::isfinite(max_norm) && max_norm > 0, "clip_by_global_norm: max_norm is ", max_norm,
             "; it must be finite and > 0");
}

void ClipByGlobalNorm::apply(const ParamGroups& groups, const GradStats* incoming) {
  if (incoming == nullptr) {
    clip_by_global_norm(groups, max_norm_);
    return;
  }
  if (incoming->finite && incoming->norm > max_norm_) {
    scale_grads(groups, max_norm_ / incoming->norm);
  }
}

AddWeightDecay::AddWeightDecay(double weight_decay) : weight_decay_(weight_decay) {
  check_weight_decay("add_weight_decay", weight_decay);
}

void AddWeightDecay::apply(const ParamGroups& groups, const GradStats* /*incoming*/) {
  add_weight_decay(groups, weight_decay_);
}

}  // namespace kiln::optim
