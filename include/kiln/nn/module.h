// nn::Module: a tree of named parameters, buffers and submodules.
//
// named_parameters() yields dotted names in registration order
// ("stages.1.blocks.0.conv1.weight"); checkpoints, weight-decay and AGC
// rules, and logs all use them. A module keeps its own Tensor handles to
// what it registers; they share storage with the registered entries, so an
// optimizer's in-place update or load_state_dict is seen by both.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "kiln/tensor/tensor.h"

namespace kiln::nn {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

class Module {
 public:
  virtual ~Module() = default;
  Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  NamedTensors named_parameters() const;
  NamedTensors named_buffers() const;
  std::vector<std::pair<std::string, Module*>> named_modules() const;  // excludes this
  TensorList parameters() const;
  int64_t num_parameters() const;
  // The direct children in registration order.
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& children() const {
    return children_;
  }

  // Training mode (dropout, stochastic depth, ...): recursive.
  void train(bool training = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }

  // Parameters and buffers, dotted names.
  NamedTensors state_dict() const;
  // Copies values into this module's tensors (shapes and dtypes must match;
  // the tensors keep their identity). With `strict`, missing and unexpected
  // names are errors; the error lists them. Nothing is modified on error.
  absl::Status load_state_dict(const std::map<std::string, Tensor>& state, bool strict = true);

  void zero_grad();
  // Freezes or unfreezes every parameter (requires_grad).
  void set_requires_grad(bool requires_grad);

 protected:
  // Registers a parameter (marked requires_grad) and returns it.
  Tensor register_parameter(const std::string& name, Tensor value);
  Tensor register_buffer(const std::string& name, Tensor value);
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    add_child(name, module);
    return module;
  }

 private:
  void add_child(const std::string& name, std::shared_ptr<Module> module);
  void collect(const std::string& prefix, NamedTensors* params, NamedTensors* buffers) const;

  std::vector<std::pair<std::string, Tensor>> parameters_;
  std::vector<std::pair<std::string, Tensor>> buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

// A module with one tensor in and one out: the unit of Sequential.
class UnaryModule : public Module {
 public:
  virtual Tensor forward(const Tensor& x) = 0;
  Tensor operator()(const Tensor& x) { return forward(x); }
};

// A module that only names its children (stages, blocks, layers): by a given
// name, or "0", "1", ... in the order of the unnamed add()s.
class ModuleList : public Module {
 public:
  template <class M>
  std::shared_ptr<M> add(const std::string& name, std::shared_ptr<M> module) {
    return register_module(name, std::move(module));
  }
  template <class M>
  std::shared_ptr<M> add(std::shared_ptr<M> module) {
    return register_module(std::to_string(next_index_++), std::move(module));
  }

 private:
  int64_t next_index_ = 0;
};

}  // namespace kiln::nn
