#include <string>
#include <utility>

#include "absl/strings/str_join.h"
#include "kiln/core/error.h"
#include "kiln/data/dataset.h"

namespace kiln::data {

void TensorMap::set(std::string name, Tensor tensor) {
  tensors_.insert_or_assign(std::move(name), std::move(tensor));
}

const Tensor& TensorMap::at(std::string_view name) const {
  auto it = tensors_.find(name);
  KILN_CHECK(it != tensors_.end(), "example: no tensor named '", name,
             "' (has: ", absl::StrJoin(names(), ", "), ")");
  return it->second;
}

Tensor& TensorMap::at(std::string_view name) {
  return const_cast<Tensor&>(static_cast<const TensorMap&>(*this).at(name));
}

void TensorMap::erase(std::string_view name) {
  auto it = tensors_.find(name);
  if (it != tensors_.end()) tensors_.erase(it);
}

std::vector<std::string> TensorMap::names() const {
  std::vector<std::string> out;
  out.reserve(tensors_.size());
  for (const auto& [name, tensor] : tensors_) out.push_back(name);
  return out;
}

}  // namespace kiln::data
