// Parameter groups: the partition of a model's named parameters that gives
// each parameter its hyperparameter overrides (learning-rate multiplier,
// weight decay, AGC on or off).
//
// A rule is a regular expression (std::regex, ECMAScript) searched in the
// dotted name (std::regex_search: it may match anywhere; anchor it with ^ and
// $). A parameter goes to the group of the FIRST rule that matches it, else
// to the default group, which comes last. Rules that end up with no
// parameter are reported as warnings, since they are usually typos.
//
// The NFNets partition (deepmind-research nfnets/experiment_nfnets.py) in
// this form, see nfnet_group_rules():
//   1. "(bias|gain|skip_gain|scale|offset)$"  no weight decay, AGC on
//   2. "^head\."                              AGC off (the final linear)
//   default                                   AGC and weight decay
// The classifier's bias matches rule 1 first, so it keeps AGC and loses
// weight decay, exactly as in the official code.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "kiln/nn/module.h"
#include "kiln/tensor/tensor.h"

namespace kiln::optim {

// Overrides; an unset field falls back to the default group's options, then
// to the optimizer's value (weight decay), 1 (lr multiplier) or true (AGC).
struct GroupOptions {
  std::optional<double> lr_mult;       // the step's lr is multiplied by this (>= 0)
  std::optional<double> weight_decay;  // replaces the optimizer's weight decay (>= 0)
  std::optional<bool> agc;             // whether adaptive gradient clipping applies
};

struct GroupRule {
  std::string name;     // for messages and logs, e.g. "no_decay"
  std::string pattern;  // regex searched in the dotted parameter name
  GroupOptions options;
};

// A resolved group.
struct ParamGroup {
  std::string name;     // the rule's name, or "default"
  std::string pattern;  // empty for the default group
  double lr_mult = 1.0;
  std::optional<double> weight_decay;  // unset: the optimizer's weight decay
  bool agc = true;
  std::vector<int> members;  // indices into ParamGroups::params()
};

// One parameter and its group.
struct ParamRef {
  std::string name;
  Tensor tensor;
  int group = 0;  // index into ParamGroups::groups()
};

class ParamGroups {
 public:
  ParamGroups() = default;
  // Partitions `params` (in their order). Throws kiln::Error naming the rule
  // for an invalid regex or option, and for duplicate parameter names. A
  // tensor listed twice (tied weights) is kept once, under its first name,
  // with a warning.
  explicit ParamGroups(const nn::NamedTensors& params, const std::vector<GroupRule>& rules = {},
                       const GroupOptions& default_options = {});

  // Groups in rule order, then the default group (always present, maybe empty).
  const std::vector<ParamGroup>& groups() const { return groups_; }
  // Parameters in the order they were given.
  const std::vector<ParamRef>& params() const { return params_; }
  const ParamGroup& group_of(const ParamRef& p) const { return groups_[p.group]; }
  // Rules that matched no parameter, or only parameters an earlier rule
  // took; tensors listed twice.
  const std::vector<std::string>& warnings() const { return warnings_; }
  // The index of the parameter called `name` in params(), or -1.
  int find(const std::string& name) const;

 private:
  std::vector<ParamGroup> groups_;
  std::vector<ParamRef> params_;
  std::vector<std::string> warnings_;
};

// The NFNets rules (see the top of this file). `head_prefix` names the final
// linear layer's module ("head" matches "head.weight", "head.bias").
std::vector<GroupRule> nfnet_group_rules(const std::string& head_prefix = "head");

}  // namespace kiln::optim
