// Optimizers: SGD (momentum, Nesterov; the NFNets form), Adam, AdamW and LAMB.
//
// An optimizer takes parameter groups (param_groups.h), keeps per-parameter
// state (slots such as "momentum" or "exp_avg"), validates its
// hyperparameters (kiln::Error naming the optimizer and the value), and
// updates each parameter with ONE fused kernel with grad mode off.
//
// step(lr):
//   1. one pass over every gradient computes the global norm and checks that
//      all elements are finite; if any is NaN or Inf the step is skipped and
//      NOTHING changes (parameters, slots, the step counter, the gradients);
//   2. the chain of gradient transforms runs in order (add_transform: e.g.
//      AdaptiveGradClip for NFNets' SGD_AGC);
//   3. each parameter with a gradient gets its fused update with
//      lr * group.lr_mult and the group's weight decay (else the
//      optimizer's); parameters without a gradient are left alone.
// The learning rate comes from the caller (a schedule of the step, see
// schedule.h), so resuming needs only the step counter and the slots.
//
// Parameters and their gradients are f32 or f64 and contiguous.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "kiln/nn/module.h"
#include "kiln/optim/param_groups.h"
#include "kiln/optim/transforms.h"
#include "kiln/tensor/tensor.h"

namespace kiln::optim {

struct StepResult {
  bool applied = false;  // false: a gradient held NaN or Inf and nothing changed
  double grad_norm = 0;  // global L2 norm of the gradients before any transform
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  std::string_view name() const { return name_; }
  const ParamGroups& groups() const { return groups_; }

  // Appends a transform to the chain run before every update.
  Optimizer& add_transform(std::unique_ptr<GradientTransform> transform);

  // Takes one step with learning rate `lr` (finite, >= 0); see the top of
  // this file.
  StepResult step(double lr);
  // Drops every parameter's gradient (as Module::zero_grad).
  void zero_grad();
  // Steps applied so far (skipped steps do not count).
  int64_t step_count() const { return step_; }

  // The state as named tensors: "<param name>.<slot>" for each slot of each
  // parameter (e.g. "stages.0.conv.weight.momentum"; the live tensors, not
  // copies) and "step", an i64 scalar.
  nn::NamedTensors state_dict() const;
  // Copies `state` in. Every name above must be present with the same shape
  // and dtype and nothing else may be; on error nothing is modified and the
  // message lists the problems.
  absl::Status load_state_dict(const std::map<std::string, Tensor>& state);

  const std::vector<std::string>& slot_names() const { return slot_names_; }
  // The state tensor of one parameter's slot; throws if either is unknown.
  Tensor slot(const std::string& param_name, const std::string& slot_name) const;

 protected:
  Optimizer(std::string name, ParamGroups groups, double weight_decay,
            std::vector<std::string> slot_names);

  // Updates one parameter in place (grad mode is off). `grad` is contiguous
  // with the parameter's shape and dtype, `slots` holds the parameter's slot
  // tensors in slot_names() order, `step` counts this step from 1.
  virtual void update(const ParamRef& param, const Tensor& grad, Tensor* slots, double lr,
                      double weight_decay, int64_t step) = 0;

 private:
  std::string name_;
  ParamGroups groups_;
  double weight_decay_;
  std::vector<std::string> slot_names_;
  std::vector<std::vector<Tensor>> state_;  // [param][slot], zeros at the start
  std::vector<std::unique_ptr<GradientTransform>> transforms_;
  int64_t step_ = 0;
};

// SGD exactly as deepmind-research nfnets/optim.py (SGD, and SGD_AGC with an
// AdaptiveGradClip transform), per element:
//   g = grad + weight_decay * p
//   buf = momentum * buf + (1 - dampening) * g          (buf starts at 0)
//   g = nesterov ? g + momentum * buf : buf
//   p -= lr * g
// No lr scaling of the buffer. With dampening 0 this is torch.optim.SGD.
// momentum == 0 keeps no buffer: p -= lr * g.
struct SgdOptions {
  double momentum = 0;      // [0, 1)
  double dampening = 0;     // [0, 1]
  bool nesterov = false;    // needs momentum > 0
  double weight_decay = 0;  // coupled L2, >= 0
};

class Sgd final : public Optimizer {
 public:
  Sgd(ParamGroups groups, const SgdOptions& options);
  Sgd(const nn::NamedTensors& params, const SgdOptions& options)
      : Sgd(ParamGroups(params), options) {}

 private:
  void update(const ParamRef& param, const Tensor& grad, Tensor* slots, double lr,
              double weight_decay, int64_t step) override;
  SgdOptions options_;
};

// Adam (Kingma & Ba) in torch.optim.Adam's form, with coupled L2 weight
// decay (g += wd * p) and bias correction:
//   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
//   p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
struct AdamOptions {
  double beta1 = 0.9;       // [0, 1)
  double beta2 = 0.999;     // [0, 1)
  double eps = 1e-8;        // >= 0
  double weight_decay = 0;  // >= 0
};

class Adam final : public Optimizer {
 public:
  Adam(ParamGroups groups, const AdamOptions& options);
  Adam(const nn::NamedTensors& params, const AdamOptions& options)
      : Adam(ParamGroups(params), options) {}

 private:
  void update(const ParamRef& param, const Tensor& grad, Tensor* slots, double lr,
              double weight_decay, int64_t step) override;
  AdamOptions options_;
};

// AdamW (Loshchilov & Hutter) in torch.optim.AdamW's form: decoupled weight
// decay p *= 1 - lr * wd before the Adam update above (which then has no L2
// term). torch's default weight decay, 1e-2.
struct AdamWOptions {
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 1e-2;
};

class AdamW final : public Optimizer {
 public:
  AdamW(ParamGroups groups, const AdamWOptions& options);
  AdamW(const nn::NamedTensors& params, const AdamWOptions& options)
      : AdamW(ParamGroups(params), options) {}

 private:
  void update(const ParamRef& param, const Tensor& grad, Tensor* slots, double lr,
              double weight_decay, int64_t step) override;
  AdamWOptions options_;
};

// LAMB (You et al. 2019, "Large Batch Optimization for Deep Learning",
// Algorithm 2, with its bias correction and phi = identity), per parameter
// tensor:
//   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
//   u = (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps) + wd * p
//   p -= lr * (||p|| / ||u||) * u      (the ratio is 1 if either norm is 0)
// The gradient is not weight-decayed before the moments (wd enters u only).
struct LambOptions {
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-6;
  double weight_decay = 0;
};

class Lamb final : public Optimizer {
 public:
  Lamb(ParamGroups groups, const LambOptions& options);
  Lamb(const nn::NamedTensors& params, const LambOptions& options)
      : Lamb(ParamGroups(params), options) {}

 private:
  void update(const ParamRef& param, const Tensor& grad, Tensor* slots, double lr,
              double weight_decay, int64_t step) override;
  LambOptions options_;
};

}  // namespace kiln::optim
