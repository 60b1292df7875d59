#include "kiln/optim/ema.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "kernels/optim.h"
#include "kiln/autograd/grad_mode.h"
#include "kiln/core/error.h"
#include "kiln/ops/inplace.h"
#include "src/optim/optim_util.h"

namespace kiln::optim {
namespace {

nn::NamedTensors module_tensors(const nn::Module& module) {
  nn::NamedTensors out = module.named_parameters();
  for (auto& [name, t] : module.named_buffers()) {
    if (is_floating(t.dtype())) out.emplace_back(name, t);
  }
  return out;
}

}  // namespace

Ema::Ema(const nn::NamedTensors& tensors, const EmaOptions& options) : options_(options) {
  internal::check_closed_unit_interval("ema", "decay", options_.decay);
  std::set<std::string> names;
  for (const auto& [name, t] : tensors) {
    KILN_CHECK(t.defined(), "ema: '", name, "' is undefined");
    KILN_CHECK(names.insert(name).second, "ema: '", name, "' appears twice");
    internal::check_kernel_tensor("ema", name, t);
    tracked_.emplace_back(name, t);
    Tensor shadow = Tensor::empty(t.shape(), t.dtype());
    copy_into(shadow, t);
    shadows_.emplace_back(name, shadow);
  }
}

Ema::Ema(const nn::Module& module, const EmaOptions& options)
    : Ema(module_tensors(module), options) {}

double Ema::decay_at(int64_t step) const {
  KILN_CHECK(step >= 0, "ema: step is ", step, "; it must be >= 0");
  if (!options_.warmup) return options_.decay;
  const double t = static_cast<double>(step);
  return std::min(options_.decay, (1.0 + t) / (10.0 + t));
}

void Ema::update(int64_t step) {
  const double decay = decay_at(step);
  for (size_t i = 0; i < tracked_.size(); ++i) {
    const Tensor& value = tracked_[i].second;
    const Tensor& shadow = shadows_[i].second;
    if (value.dtype() == DType::kF32) {
      kernels::ema_update(shadow.data<float>(), value.data<float>(), value.numel(), decay);
    } else {
      kernels::ema_update(shadow.data<double>(), value.data<double>(), value.numel(), decay);
    }
  }
}

void Ema::copy_to() const {
  NoGradGuard no_grad;
  for (size_t i = 0; i < tracked_.size(); ++i) copy_(tracked_[i].second, shadows_[i].second);
}

void Ema::swap() {
  for (size_t i = 0; i < tracked_.size(); ++i) {
    char* a = static_cast<char*>(tracked_[i].second.raw_data());
    char* b = static_cast<char*>(shadows_[i].second.raw_data());
    std::swap_ranges(a, a + tracked_[i].second.nbytes(), b);
  }
}

absl::Status Ema::load_state_dict(const std::map<std::string, Tensor>& state) {
  std::vector<std::string> missing, mismatched, unexpected;
  std::set<std::string> known;
  for (const auto& [name, shadow] : shadows_) {
    known.insert(name);
    auto it = state.find(name);
    if (it == state.end()) {
      missing.push_back(name);
    } else if (!it->second.defined() || it->second.shape() != shadow.shape() ||
               it->second.dtype() != shadow.dtype()) {
      mismatched.push_back(name);
    }
  }
  for (const auto& [name, t] : state) {
    if (!known.count(name)) unexpected.push_back(name);
  }
  std::vector<std::string> problems;
  if (!mismatched.empty()) problems.push_back("mismatched: " + absl::StrJoin(mismatched, ", "));
  if (!missing.empty()) problems.push_back("missing: " + absl::StrJoin(missing, ", "));
  if (!unexpected.empty()) problems.push_back("unexpected: " + absl::StrJoin(unexpected, ", "));
  if (!problems.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("ema: load_state_dict: ", absl::StrJoin(problems, "; ")));
  }
  NoGradGuard no_grad;
  for (const auto& [name, shadow] : shadows_) copy_(shadow, state.at(name));
  return absl::OkStatus();
}

}  // namespace kiln::optim
