#include <map>

#include "absl/strings/str_join.h"
#include "kiln/nn/layers.h"
#include "kiln/ops/unary.h"

namespace kiln::nn {
namespace {

const std::map<std::string, Activation>& activations() {
  static const auto* table = new std::map<std::string, Activation>{
      {"relu", [](const Tensor& x) { return relu(x); }},
      // Flamingo's new layers (and Primer): relu(x)^2.
      {"squared_relu", [](const Tensor& x) { return square(relu(x)); }},
      {"gelu", [](const Tensor& x) { return gelu(x, true); }},
      {"gelu_exact", [](const Tensor& x) { return gelu(x, false); }},
      {"silu", [](const Tensor& x) { return silu(x); }},
      {"tanh", [](const Tensor& x) { return tanh(x); }},
      {"sigmoid", [](const Tensor& x) { return sigmoid(x); }},
      {"identity", [](const Tensor& x) { return x; }},
      {"leaky_relu", [](const Tensor& x) { return leaky_relu(x, 0.01); }},
      {"softplus", [](const Tensor& x) { return softplus(x); }},
  };
  return *table;
}

}  // namespace

bool is_activation_name(const std::string& name) { return activations().count(name) > 0; }

Activation activation_by_name(const std::string& name) {
  auto it = activations().find(name);
  if (it == activations().end()) {
    std::vector<std::string> names;
    for (const auto& [n, f] : activations()) names.push_back(n);
    KILN_FAIL("activation: unknown name '", name, "' (one of ", absl::StrJoin(names, ", "), ")");
  }
  return it->second;
}

}  // namespace kiln::nn
