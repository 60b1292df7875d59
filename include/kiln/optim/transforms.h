// Gradient transforms: small composable pieces in the spirit of optax. Each
// works in place on the accumulated gradients (Tensor::grad()) of a set of
// parameter groups, with grad mode off; parameters without a gradient are
// left alone. An optimizer runs its chain of transforms inside step(), after
// the non-finite check and before its fused update (see optimizer.h); the
// free functions serve hand-written loops.
//
// The NFNets order is: AGC -> add weight decay -> momentum/Nesterov -> lr.
// The optimizers fuse the weight decay into their update, so an SGD with an
// AdaptiveGradClip transform is the official SGD_AGC.
#pragma once

#include <memory>
#include <string_view>

#include "kiln/optim/param_groups.h"
#include "kiln/tensor/tensor.h"

namespace kiln::optim {

// The global L2 norm of all gradients and whether every element is finite,
// in one pass (fixed-order sums: the result does not depend on the thread
// count). norm is NaN or Inf when finite is false.
struct GradStats {
  double norm = 0;
  bool finite = true;
};
GradStats grad_stats(const ParamGroups& groups);

// --- Adaptive gradient clipping (Brock et al. 2021), exactly as
// deepmind-research nfnets/optim.py (SGD_AGC, unitwise_norm) ---
//
// Units: after squeezing size-1 dims a scalar or vector is one unit (whole-
// tensor norm); otherwise a rank-2 (I, O) linear or rank-3 (I, H, D)
// multi-head linear reduces over axis 0 only, a rank-4 (KH, KW, I, O) conv
// over axes 0-2, so each output unit (each last-axis index, each (H, D) pair
// for rank 3) has its own norm. The official code rejects rank >= 5; kiln
// reduces over every axis but the last there.
// Per unit:
//   max_norm = max(||W_i||, eps) * clipping
//   G_i <- G_i * max_norm / max(||G_i||, 1e-6)   if ||G_i|| > max_norm
struct AgcOptions {
  double clipping = 0.01;  // lambda; > 0
  double eps = 1e-3;       // floor of the parameter norm; >= 0
};

// The unit norms of `x` (f32 or f64), with the official code's keepdims
// shapes: () for scalars and vectors, (1, O) for (I, O), (1, H, D) for
// (I, H, D), (1, 1, 1, O) for (KH, KW, I, O).
Tensor unitwise_norm(const Tensor& x);
// Clips `grad` in place against `param` (same shape and dtype, contiguous).
void adaptive_grad_clip(const Tensor& param, const Tensor& grad, const AgcOptions& options);
// Clips every gradient of every group whose agc flag is on.
void adaptive_grad_clip(const ParamGroups& groups, const AgcOptions& options);

// --- Global-norm clipping (optax.clip_by_global_norm) ---
// If the global norm exceeds max_norm (> 0), scales every gradient by
// max_norm / norm. Returns the norm before clipping.
double clip_by_global_norm(const ParamGroups& groups, double max_norm);

// --- Weight decay ---
// Coupled L2: grad += wd * param, wd the group's weight decay or `weight_decay`.
void add_weight_decay(const ParamGroups& groups, double weight_decay);
// Decoupled (AdamW): param *= 1 - lr * lr_mult * wd, same wd resolution.
void decoupled_weight_decay(const ParamGroups& groups, double lr, double weight_decay);

// A transform in an optimizer's chain.
class GradientTransform {
 public:
  virtual ~GradientTransform() = default;
  virtual std::string_view name() const = 0;
  // Transforms the gradients in place. `incoming` holds the statistics of the
  // gradients as they are now when the caller knows them (the optimizer
  // passes them to the first transform), else it is null.
  virtual void apply(const ParamGroups& groups, const GradStats* incoming) = 0;
};

class AdaptiveGradClip final : public GradientTransform {
 public:
  explicit AdaptiveGradClip(const AgcOptions& options = {});
  std::string_view name() const override { return "adaptive_grad_clip"; }
  void apply(const ParamGroups& groups, const GradStats* incoming) override;

 private:
  AgcOptions options_;
};

class ClipByGlobalNorm final : public GradientTransform {
 public:
  explicit ClipByGlobalNorm(double max_norm);
  std::string_view name() const override { return "clip_by_global_norm"; }
  void apply(const ParamGroups& groups, const GradStats* incoming) override;

 private:
  double max_norm_;
};

// Coupled L2 weight decay as a transform, for optimizers built without one
// (do not combine with an optimizer's own weight_decay: it would apply twice).
class AddWeightDecay final : public GradientTransform {
 public:
  explicit AddWeightDecay(double weight_decay);
  std::string_view name() const override { return "add_weight_decay"; }
  void apply(const ParamGroups& groups, const GradStats* incoming) override;

 private:
  double weight_decay_;
};

}  // namespace kiln::optim
