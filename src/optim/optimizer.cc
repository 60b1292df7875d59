#include "kiln/optim/optimizer.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "kiln/autograd/grad_mode.h"
#include "kiln/core/error.h"
#include "kiln/ops/inplace.h"
#include "src/optim/optim_util.h"

namespace kiln::optim {

Optimizer::Optimizer(std::string name, ParamGroups groups, double weight_decay,
                     std::vector<std::string> slot_names)
    : name_(std::move(name)),
      groups_(std::move(groups)),
      weight_decay_(weight_decay),
      slot_names_(std::move(slot_names)) {
  internal::check_nonnegative(name_, "weight_decay", weight_decay_);
  state_.reserve(groups_.params().size());
  for (const ParamRef& p : groups_.params()) {
    internal::check_kernel_tensor(name_, p.name, p.tensor);
    std::vector<Tensor> slots;
    for (size_t s = 0; s < slot_names_.size(); ++s) {
      slots.push_back(zeros(p.tensor.shape(), p.tensor.dtype()));
    }
    state_.push_back(std::move(slots));
  }
}

Optimizer& Optimizer::add_transform(std::unique_ptr<GradientTransform> transform) {
  KILN_CHECK(transform != nullptr, name_, ": add_transform got a null transform");
  transforms_.push_back(std::move(transform));
  return *this;
}

StepResult Optimizer::step(double lr) {
  internal::check_nonnegative(name_, "lr", lr);
  // One pass: the global norm, the non-finite check, and every gradient
  // validated and made contiguous before anything changes.
  const GradStats stats = internal::grad_stats(name_, groups_);
  if (!stats.finite) return StepResult{false, stats.norm};
  NoGradGuard no_grad;
  for (size_t i = 0; i < transforms_.size(); ++i) {
    transforms_[i]->apply(groups_, i == 0 ? &stats : nullptr);
  }
  const int64_t step = step_ + 1;
  const std::vector<ParamRef>& params = groups_.params();
  for (size_t i = 0; i < params.size(); ++i) {
    const Tensor grad = internal::kernel_grad(name_, params[i]);
    if (!grad.defined()) continue;
    const ParamGroup& group = groups_.group_of(params[i]);
    update(params[i], grad, state_[i].data(), lr * group.lr_mult,
           group.weight_decay.value_or(weight_decay_), step);
  }
  step_ = step;
  return StepResult{true, stats.norm};
}

void Optimizer::zero_grad() {
  for (const ParamRef& p : groups_.params()) Tensor(p.tensor).zero_grad();
}

nn::NamedTensors Optimizer::state_dict() const {
  nn::NamedTensors out;
  const std::vector<ParamRef>& params = groups_.params();
  for (size_t i = 0; i < params.size(); ++i) {
    for (size_t s = 0; s < slot_names_.size(); ++s) {
      out.emplace_back(absl::StrCat(params[i].name, ".", slot_names_[s]), state_[i][s]);
    }
  }
  out.emplace_back("step", scalar_tensor(static_cast<double>(step_), DType::kI64));
  return out;
}

absl::Status Optimizer::load_state_dict(const std::map<std::string, Tensor>& state) {
  std::vector<std::string> missing, mismatched;
  std::set<std::string> used;
  const nn::NamedTensors own = state_dict();
  for (const auto& [name, t] : own) {
    auto it = state.find(name);
    if (it == state.end()) {
      missing.push_back(name);
      continue;
    }
    used.insert(name);
    const Tensor& src = it->second;
    if (!src.defined() || src.shape() != t.shape() || src.dtype() != t.dtype()) {
      mismatched.push_back(absl::StrCat(
          name, " (expected ", dtype_name(t.dtype()), " ", shape_str(t.shape()), ", got ",
          src.defined() ? absl::StrCat(dtype_name(src.dtype()), " ", shape_str(src.shape()))
                        : std::string("undefined"),
          ")"));
    }
  }
  int64_t step = 0;
  auto step_it = state.find("step");
  if (step_it != state.end() && step_it->second.defined() &&
      step_it->second.dtype() == DType::kI64 && step_it->second.numel() == 1) {
    step = step_it->second.item<int64_t>();
    if (step < 0) mismatched.push_back(absl::StrCat("step (", step, " is negative)"));
  }
  std::vector<std::string> unexpected;
  for (const auto& [name, t] : state) {
    if (!used.count(name)) unexpected.push_back(name);
  }
  std::vector<std::string> problems;
  if (!mismatched.empty()) problems.push_back("mismatched: " + absl::StrJoin(mismatched, ", "));
  if (!missing.empty()) problems.push_back("missing: " + absl::StrJoin(missing, ", "));
  if (!unexpected.empty()) problems.push_back("unexpected: " + absl::StrJoin(unexpected, ", "));
  if (!problems.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(name_, ": load_state_dict: ", absl::StrJoin(problems, "; ")));
  }
  NoGradGuard no_grad;
  const std::vector<ParamRef>& params = groups_.params();
  for (size_t i = 0; i < params.size(); ++i) {
    for (size_t s = 0; s < slot_names_.size(); ++s) {
      copy_(state_[i][s], state.at(absl::StrCat(params[i].name, ".", slot_names_[s])));
    }
  }
  step_ = step;
  return absl::OkStatus();
}

Tensor Optimizer::slot(const std::string& param_name, const std::string& slot_name) const {
  const int index = groups_.find(param_name);
  KILN_CHECK(index >= 0, name_, ": no parameter named '", param_name, "'");
  for (size_t s = 0; s < slot_names_.size(); ++s) {
    if (slot_names_[s] == slot_name) return state_[index][s];
  }
  KILN_FAIL(name_, ": no slot named '", slot_name, "' (slots: ", absl::StrJoin(slot_names_, ", "),
            ")");
}

}  // namespace kiln::optim
