#include <map>

#include "absl/strings/str_join.h"
#include "kiln/models/nfnet/nf_layers.h"
#include "kiln/ops/binary.h"
#include "kiln/ops/unary.h"

namespace kiln::models {
namespace {

struct ScaledActivation {
  double gamma;
  nn::Activation fn;
};

// deepmind-research nfnets/base.py `nonlinearities`.
const std::map<std::string, ScaledActivation>& table() {
  static const auto* t = new std::map<std::string, ScaledActivation>{
      {"relu", {1.7139588594436646, [](const Tensor& x) { return relu(x); }}},
      {"gelu", {1.7015043497085571, [](const Tensor& x) { return gelu(x, true); }}},
      {"silu", {1.7881293296813965, [](const Tensor& x) { return silu(x); }}},
      {"leaky_relu", {1.70590341091156, [](const Tensor& x) { return leaky_relu(x, 0.01); }}},
      {"tanh", {1.5939117670059204, [](const Tensor& x) { return tanh(x); }}},
      {"sigmoid", {4.803835391998291, [](const Tensor& x) { return sigmoid(x); }}},
      {"softplus", {1.9203323125839233, [](const Tensor& x) { return softplus(x); }}},
      {"identity", {1.0, [](const Tensor& x) { return x; }}},
  };
  return *t;
}

const ScaledActivation& lookup(const std::string& name) {
  auto it = table().find(name);
  if (it == table().end()) {
    std::vector<std::string> names;
    for (const auto& [n, a] : table()) names.push_back(n);
    KILN_FAIL("nf_activation: unknown name '", name, "' (one of ", absl::StrJoin(names, ", "), ")");
  }
  return it->second;
}

}  // namespace

double nf_activation_gamma(const std::string& name) { return lookup(name).gamma; }

bool is_nf_activation_name(const std::string& name) { return table().count(name) > 0; }

nn::Activation nf_activation(const std::string& name) {
  const ScaledActivation& a = lookup(name);
  if (a.gamma == 1.0) return a.fn;
  return [fn = a.fn, gamma = a.gamma](const Tensor& x) { return mul_scalar(fn(x), gamma); };
}

}  // namespace kiln::models
