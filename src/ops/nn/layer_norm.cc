#include "kernels/norm.h"
#include "kiln/ops/nn.h"
#include "src/ops/op_util.h"

namespace kiln {
namespace {

// Saves x, gamma and the per-row mean and rstd; the backward kernel
// recomputes xhat from them rather than keeping a second (rows, D) tensor.
class LayerNormOp final : public autograd::Node {
 public:
  std::string_view name() const override { return "layer_norm"; }
  TensorList backward(const Tensor& dy, const autograd::NeedsGrad& needs) override {
    const Tensor& x = saved(x_);
    const Tensor gamma = gamma_ >= 0 ? saved(gamma_) : Tensor();
    const Tensor g = as_contiguous(dy);
    const int64_t d = x.size(-1);
    const int64_t rows = d > 0 ? x.numel() / d : 0;
    Tensor dx = needs[0] ? Tensor::empty(x.shape(), x.dtype()) : Tensor();
    Tensor dgamma = needs.size() > 1 && needs[1] ? Tensor::empty({d}, x.dtype()) : Tensor();
    Tensor dbeta = needs.size() > 2 && needs[2] ? Tensor::empty({d}, x.dtype()) : Tensor();
    ops_internal::dispatch_f32_f64("layer_norm", x.dtype(), [&](auto tag) {
      using T = decltype(tag);
      auto ptr = [](const Tensor& t) { return t.defined() ? t.data<T>() : nullptr; };
      kernels::layer_norm_backward(x.data<T>(), ptr(gamma), saved(mean_).data<T>(),
                                   saved(rstd_).data<T>(), g.data<T>(), ptr(dx), ptr(dgamma),
                                   ptr(dbeta), rows, d);
    });
    return {dx, dgamma, dbeta};
  }
  int x_ = -1, gamma_ = -1, mean_ = -1, rstd_ = -1;
};

void check_param(const Tensor& x, const Tensor& p, const char* what) {
  if (!p.defined()) return;
  KILN_CHECK(p.dtype() == x.dtype(), "layer_norm: ", what, " has dtype ", dtype_name(p.dtype()),
             " but x has ", dtype_name(x.dtype()));
  KILN_CHECK(p.dim() == 1 && p.size(0) == x.size(-1), "layer_norm: ", what, " must have shape ",
             shape_str({x.size(-1)}), " to match x ", shape_str(x.shape()), ", got ",
             shape_str(p.shape()));
}

}  // namespace

Tensor layer_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps) {
  ops_internal::check_f32_or_f64("layer_norm", x);
  KILN_CHECK(x.dim() >= 1, "layer_norm: x must have at least one dim, got ", shape_str(x.shape()));
  KILN_CHECK(eps >= 0, "layer_norm: eps must be >= 0, got ", eps);
  check_param(x, gamma, "gamma");
  check_param(x, beta, "beta");
  // (rows, D) with rows the product of the leading dims.
  const int64_t d = x.size(-1);
  int64_t rows = 1;
  for (int64_t i = 0; i + 1 < x.dim(); ++i) rows *= x.shape()[i];
  const Tensor src = as_contiguous(x);
  const Tensor g = gamma.defined() ? as_contiguous(gamma) : Tensor();
  const Tensor b = beta.defined() ? as_contiguous(beta) : Tensor();
  Tensor y = Tensor::empty(x.shape(), x.dtype());
  Tensor mean = Tensor::empty({rows}, x.dtype());
  Tensor rstd = Tensor::empty({rows}, x.dtype());
  ops_internal::dispatch_f32_f64("layer_norm", x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    auto ptr = [](const Tensor& t) { return t.defined() ? t.data<T>() : nullptr; };
    kernels::layer_norm_forward(src.data<T>(), ptr(g), ptr(b), y.data<T>(), mean.data<T>(),
                                rstd.data<T>(), rows, d, eps);
  });
  ops_internal::record<LayerNormOp>(y, {x, gamma, beta}, [&](LayerNormOp& node) {
    node.x_ = node.save(src);
    if (g.defined()) node.gamma_ = node.save(g);
    node.mean_ = node.save(mean);
    node.rstd_ = node.save(rstd);
  });
  return y;
}

}  // namespace kiln
