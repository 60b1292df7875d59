#include "kiln/nn/module.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "kiln/autograd/grad_mode.h"
#include "kiln/core/error.h"
#include "kiln/ops/inplace.h"

namespace kiln::nn {
namespace {

void check_name(const std::string& name, const char* what) {
  KILN_CHECK(!name.empty() && name.find('.') == std::string::npos, "Module: ", what, " name '",
             name, "' must be non-empty and contain no '.'");
}

template <class Entries>
void check_unique(const Entries& entries, const std::string& name) {
  for (const auto& [existing, value] : entries) {
    KILN_CHECK(existing != name, "Module: '", name, "' is registered twice");
  }
}

}  // namespace

Tensor Module::register_parameter(const std::string& name, Tensor value) {
  check_name(name, "parameter");
  check_unique(parameters_, name);
  check_unique(buffers_, name);
  KILN_CHECK(value.defined(), "Module: parameter '", name, "' is undefined");
  if (!value.requires_grad()) value.set_requires_grad(true);
  parameters_.emplace_back(name, value);
  return value;
}

Tensor Module::register_buffer(const std::string& name, Tensor value) {
  check_name(name, "buffer");
  check_unique(parameters_, name);
  check_unique(buffers_, name);
  KILN_CHECK(value.defined(), "Module: buffer '", name, "' is undefined");
  buffers_.emplace_back(name, value);
  return value;
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> module) {
  check_name(name, "submodule");
  check_unique(children_, name);
  KILN_CHECK(module != nullptr, "Module: submodule '", name, "' is null");
  module->train(training_);
  children_.emplace_back(name, std::move(module));
}

void Module::collect(const std::string& prefix, NamedTensors* params, NamedTensors* buffers) const {
  if (params) {
    for (const auto& [name, t] : parameters_) params->emplace_back(prefix + name, t);
  }
  if (buffers) {
    for (const auto& [name, t] : buffers_) buffers->emplace_back(prefix + name, t);
  }
  for (const auto& [name, child] : children_) child->collect(prefix + name + ".", params, buffers);
}

NamedTensors Module::named_parameters() const {
  NamedTensors out;
  collect("", &out, nullptr);
  return out;
}

NamedTensors Module::named_buffers() const {
  NamedTensors out;
  collect("", nullptr, &out);
  return out;
}

std::vector<std::pair<std::string, Module*>> Module::named_modules() const {
  std::vector<std::pair<std::string, Module*>> out;
  // Depth-first, registration order.
  struct Walker {
    static void walk(const Module& m, const std::string& prefix,
                     std::vector<std::pair<std::string, Module*>>* out) {
      for (const auto& [name, child] : m.children()) {
        out->emplace_back(prefix + name, child.get());
        walk(*child, prefix + name + ".", out);
      }
    }
  };
  Walker::walk(*this, "", &out);
  return out;
}

TensorList Module::parameters() const {
  TensorList out;
  for (auto& [name, t] : named_parameters()) out.push_back(t);
  return out;
}

int64_t Module::num_parameters() const {
  int64_t n = 0;
  for (auto& [name, t] : named_parameters()) n += t.numel();
  return n;
}

void Module::train(bool training) {
  training_ = training;
  for (auto& [name, child] : children_) child->train(training);
}

NamedTensors Module::state_dict() const {
  NamedTensors out;
  collect("", &out, &out);
  return out;
}

absl::Status Module::load_state_dict(const std::map<std::string, Tensor>& state, bool strict) {
  const NamedTensors own = state_dict();
  std::vector<std::string> missing, mismatched;
  std::set<std::string> used;
  for (const auto& [name, t] : own) {
    auto it = state.find(name);
    if (it == state.end()) {
      missing.push_back(name);
      continue;
    }
    used.insert(name);
    if (it->second.shape() != t.shape() || it->second.dtype() != t.dtype()) {
      mismatched.push_back(absl::StrCat(
          name, " (expected ", dtype_name(t.dtype()), " ", shape_str(t.shape()), ", got ",
          dtype_name(it->second.dtype()), " ", shape_str(it->second.shape()), ")"));
    }
  }
  std::vector<std::string> unexpected;
  for (const auto& [name, t] : state) {
    if (!used.count(name)) unexpected.push_back(name);
  }
  std::vector<std::string> problems;
  if (!mismatched.empty()) problems.push_back("mismatched: " + absl::StrJoin(mismatched, ", "));
  if (strict && !missing.empty()) problems.push_back("missing: " + absl::StrJoin(missing, ", "));
  if (strict && !unexpected.empty()) {
    problems.push_back("unexpected: " + absl::StrJoin(unexpected, ", "));
  }
  if (!problems.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("load_state_dict: ", absl::StrJoin(problems, "; ")));
  }
  NoGradGuard no_grad;
  for (const auto& [name, t] : own) {
    auto it = state.find(name);
    if (it != state.end()) copy_(t, it->second);
  }
  return absl::OkStatus();
}

void Module::zero_grad() {
  for (auto& [name, t] : named_parameters()) t.zero_grad();
}

void Module::set_requires_grad(bool requires_grad) {
  for (auto& [name, t] : named_parameters()) t.impl().autograd_meta().requires_grad = requires_grad;
}

}  // namespace kiln::nn
