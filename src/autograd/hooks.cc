#include "kiln/autograd/hooks.h"

#include <utility>

namespace kiln::autograd {

PostAccumulateGradHookHandle::PostAccumulateGradHookHandle(
    PostAccumulateGradHookHandle&& other) noexcept
    : node_(std::move(other.node_)), id_(other.id_) {
  other.node_ = nullptr;
}

PostAccumulateGradHookHandle& PostAccumulateGradHookHandle::operator=(
    PostAccumulateGradHookHandle&& other) noexcept {
  if (this != &other) {
    reset();
    node_ = std::move(other.node_);
    id_ = other.id_;
    other.node_ = nullptr;
  }
  return *this;
}

void PostAccumulateGradHookHandle::reset() {
  if (node_ == nullptr) return;
  node_->remove_post_hook(id_);
  node_ = nullptr;
}

PostAccumulateGradHookHandle register_post_accumulate_grad_hook(const Tensor& leaf,
                                                                PostAccumulateGradHook hook) {
  KILN_CHECK(leaf.defined() && leaf.is_leaf() && leaf.requires_grad(),
             "register_post_accumulate_grad_hook: the tensor must be a leaf that requires grad");
  std::shared_ptr<AccumulateGrad> node = grad_accumulator(leaf);
  const uint64_t id = node->add_post_hook(std::move(hook));
  return PostAccumulateGradHookHandle(std::move(node), id);
}

}  // namespace kiln::autograd
