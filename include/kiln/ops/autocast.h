// Mixed precision by scope: inside an AutocastScope(DType::kBF16), matmul,
// conv2d and conv3d given f32 operands cast them to bf16, multiply with f32
// accumulation, and hand the (bf16-rounded) result on as f32. Everything else (softmax, norms,
// losses, optimizer updates) stays in f32, and so do the parameters: the casts are ordinary ops, so
// gradients flow back to the f32 master weights in f32.
//
// The scope is per thread, like ContextScope; kiln's ops are called from one
// thread (kernels parallelise inside), so that is where it must be set.
#pragma once

#include <optional>

#include "kiln/tensor/dtype.h"

namespace kiln {

class AutocastScope {
 public:
  // std::nullopt switches autocast off inside an autocast region.
  explicit AutocastScope(std::optional<DType> dtype);
  ~AutocastScope();
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  std::optional<DType> previous_;
};

// The dtype matmul, conv2d and conv3d compute in on this thread, if autocast is on.
std::optional<DType> autocast_dtype();

}  // namespace kiln
