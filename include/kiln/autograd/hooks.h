// Post-accumulate gradient hooks: a function called right after a backward
// pass accumulated a gradient into a leaf's grad(), while the rest of the
// backward pass is still to run. Data-parallel training uses them to start
// averaging a parameter's gradient across processes as soon as it is
// complete, overlapping communication with the remaining backward work
// (PyTorch's Tensor.register_post_accumulate_grad_hook).
//
// A hook runs once per backward pass that reaches the leaf (after every path
// to it was summed), on the thread running backward, with grad mode off. It
// may read the gradient and may modify it in place. It is not called by
// autograd::grad(), which accumulates nothing.
#pragma once

#include <cstdint>
#include <memory>

#include "kiln/autograd/node.h"
#include "kiln/tensor/tensor.h"

namespace kiln::autograd {

// Keeps a hook registered while it lives (move-only); destroying or reset()
// removes it. It holds the leaf's AccumulateGrad node, so graphs recorded
// later reuse that node and see the hook.
class PostAccumulateGradHookHandle {
 public:
  PostAccumulateGradHookHandle() = default;
  PostAccumulateGradHookHandle(std::shared_ptr<AccumulateGrad> node, uint64_t id)
      : node_(std::move(node)), id_(id) {}
  PostAccumulateGradHookHandle(PostAccumulateGradHookHandle&& other) noexcept;
  PostAccumulateGradHookHandle& operator=(PostAccumulateGradHookHandle&& other) noexcept;
  PostAccumulateGradHookHandle(const PostAccumulateGradHookHandle&) = delete;
  PostAccumulateGradHookHandle& operator=(const PostAccumulateGradHookHandle&) = delete;
  ~PostAccumulateGradHookHandle() { reset(); }

  void reset();
  bool active() const { return node_ != nullptr; }

 private:
  std::shared_ptr<AccumulateGrad> node_;
  uint64_t id_ = 0;
};

// Registers `hook` on `leaf` (a leaf tensor that requires grad; kiln::Error
// otherwise).
[[nodiscard]] PostAccumulateGradHookHandle register_post_accumulate_grad_hook(
    const Tensor& leaf, PostAccumulateGradHook hook);

}  // namespace kiln::autograd
