#include "kiln/optim/param_groups.h"

#include <cmath>
#include <map>
#include <regex>
#include <set>

#include "absl/strings/str_cat.h"
#include "kiln/core/error.h"

namespace kiln::optim {
namespace {

void check_options(const GroupOptions& o, const std::string& group) {
  if (o.lr_mult) {
    KILN_CHECK(std::isfinite(*o.lr_mult) && *o.lr_mult >= 0, "param groups: group '", group,
               "' has lr_mult ", *o.lr_mult, "; it must be finite and >= 0");
  }
  if (o.weight_decay) {
    KILN_CHECK(std::isfinite(*o.weight_decay) && *o.weight_decay >= 0, "param groups: group '",
               group, "' has weight_decay ", *o.weight_decay, "; it must be finite and >= 0");
  }
}

// Escapes regex metacharacters so `s` matches itself.
std::string regex_escape(const std::string& s) {
  static const std::string kSpecial = R"(\^$.|?*+()[]{})";
  std::string out;
  for (char c : s) {
    if (kSpecial.find(c) != std::string::npos) out += '\\';
    out += c;
  }
  return out;
}

}  // namespace

ParamGroups::ParamGroups(const nn::NamedTensors& params, const std::vector<GroupRule>& rules,
                         const GroupOptions& default_options) {
  check_options(default_options, "default");
  std::vector<std::regex> regexes;
  regexes.reserve(rules.size());
  std::set<std::string> rule_names;
  for (const GroupRule& rule : rules) {
    KILN_CHECK(!rule.name.empty() && rule.name != "default", "param groups: a rule (pattern \"",
               rule.pattern, "\") needs a name other than \"default\"");
    KILN_CHECK(rule_names.insert(rule.name).second, "param groups: two rules are named '",
               rule.name, "'");
    check_options(rule.options, rule.name);
    try {
      regexes.emplace_back(rule.pattern, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      KILN_FAIL("param groups: rule '", rule.name, "' has an invalid regex \"", rule.pattern,
                "\": ", e.what());
    }
    ParamGroup group;
    group.name = rule.name;
    group.pattern = rule.pattern;
    group.lr_mult = rule.options.lr_mult.value_or(default_options.lr_mult.value_or(1.0));
    group.weight_decay =
        rule.options.weight_decay ? rule.options.weight_decay : default_options.weight_decay;
    group.agc = rule.options.agc.value_or(default_options.agc.value_or(true));
    groups_.push_back(std::move(group));
  }
  ParamGroup fallback;
  fallback.name = "default";
  fallback.lr_mult = default_options.lr_mult.value_or(1.0);
  fallback.weight_decay = default_options.weight_decay;
  fallback.agc = default_options.agc.value_or(true);
  groups_.push_back(std::move(fallback));

  std::vector<int> matched(rules.size(), 0);  // parameters each rule matches at all
  std::set<std::string> names;
  std::map<const TensorImpl*, std::string> seen;  // tensor -> its first name
  for (const auto& [name, tensor] : params) {
    KILN_CHECK(tensor.defined(), "param groups: parameter '", name, "' is undefined");
    KILN_CHECK(names.insert(name).second, "param groups: parameter name '", name,
               "' appears twice");
    const auto [it, first] = seen.emplace(&tensor.impl(), name);
    if (!first) {
      warnings_.push_back(absl::StrCat("param groups: '", name, "' is the same tensor as '",
                                       it->second, "'; it is updated once, as '", it->second, "'"));
      continue;
    }
    int group = static_cast<int>(rules.size());  // the default group
    for (size_t r = 0; r < rules.size(); ++r) {
      if (std::regex_search(name, regexes[r])) {
        ++matched[r];
        if (group == static_cast<int>(rules.size())) group = static_cast<int>(r);
      }
    }
    groups_[group].members.push_back(static_cast<int>(params_.size()));
    params_.push_back(ParamRef{name, tensor, group});
  }
  for (size_t r = 0; r < rules.size(); ++r) {
    if (matched[r] == 0) {
      warnings_.push_back(absl::StrCat("param groups: rule '", rules[r].name, "' (pattern \"",
                                       rules[r].pattern,
                                       "\") matches no parameter; is it a typo?"));
    } else if (groups_[r].members.empty()) {
      warnings_.push_back(absl::StrCat("param groups: rule '", rules[r].name, "' (pattern \"",
                                       rules[r].pattern, "\") matches ", matched[r],
                                       " parameter(s), all taken by earlier rules"));
    }
  }
}

int ParamGroups::find(const std::string& name) const {
  for (size_t i = 0; i < params_.size(); ++i) {
    if (params_[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

std::vector<GroupRule> nfnet_group_rules(const std::string& head_prefix) {
  GroupRule gains_biases{"gains_biases", "(bias|gain|skip_gain|scale|offset)$", {}};
  gains_biases.options.weight_decay = 0.0;
  GroupRule head{"head", absl::StrCat("^", regex_escape(head_prefix), "\\."), {}};
  head.options.agc = false;
  return {gains_biases, head};
}

}  // namespace kiln::optim
