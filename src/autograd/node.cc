#include "kiln/autograd/node.h"

#include <atomic>
#include <vector>

#include "kiln/autograd/grad_mode.h"
#include "kiln/ops/inplace.h"
#include "kiln/ops/shape.h"

namespace kiln::autograd {
namespace {

std::atomic<uint64_t> g_next_sequence_nr{1};

// Nodes whose deletion was requested while another deletion was running.
thread_local std::vector<Node*>* t_pending_deletes = nullptr;

std::shared_ptr<Node> gradient_edge(const Tensor& t) {
  if (!t.defined() || !t.requires_grad()) return nullptr;
  if (t.grad_fn()) return t.grad_fn();
  return grad_accumulator(t);
}

}  // namespace

std::shared_ptr<AccumulateGrad> grad_accumulator(const Tensor& leaf) {
  KILN_CHECK(leaf.defined() && leaf.is_leaf() && leaf.requires_grad(),
             "grad_accumulator: the tensor must be a leaf that requires grad");
  AutogradMeta& meta = leaf.impl().autograd_meta();
  if (auto existing = meta.accumulator.lock()) {
    return std::static_pointer_cast<AccumulateGrad>(existing);
  }
  std::shared_ptr<AccumulateGrad> accumulator(new AccumulateGrad(leaf.impl_ptr()), NodeDeleter());
  meta.accumulator = accumulator;
  return accumulator;
}

void NodeDeleter::operator()(Node* node) const {
  if (t_pending_deletes != nullptr) {
    // Deleting `node` now would recurse through its edges; the outermost
    // deleter picks it up from the queue instead.
    t_pending_deletes->push_back(node);
    return;
  }
  std::vector<Node*> pending{node};
  t_pending_deletes = &pending;
  while (!pending.empty()) {
    Node* next = pending.back();
    pending.pop_back();
    delete next;
  }
  t_pending_deletes = nullptr;
}

int Node::save(const Tensor& t) {
  saved_.push_back(t.defined() ? t.detach() : Tensor());
  return static_cast<int>(saved_.size()) - 1;
}

const Tensor& Node::saved(int slot) const {
  KILN_CHECK(!released_, name(),
             ": backward through a graph whose saved tensors were freed; pass retain_graph=true to "
             "the first backward to run it twice");
  return saved_.at(slot);
}

void Node::release_saved() {
  saved_.clear();
  saved_.shrink_to_fit();
  released_ = true;
}

bool any_requires_grad(const TensorList& inputs) {
  if (!grad_mode_enabled()) return false;
  for (const Tensor& t : inputs) {
    if (t.defined() && t.requires_grad()) return true;
  }
  return false;
}

void set_edges(Node& node, const TensorList& inputs) {
  node.edges_.clear();
  node.edges_.reserve(inputs.size());
  for (const Tensor& t : inputs) {
    Edge edge;
    edge.node = gradient_edge(t);
    if (t.defined()) {
      edge.shape = t.shape();
      edge.dtype = t.dtype();
    }
    node.edges_.push_back(std::move(edge));
  }
  node.sequence_nr_ = g_next_sequence_nr.fetch_add(1, std::memory_order_relaxed);
}

void set_history(Tensor& output, std::shared_ptr<Node> node) {
  AutogradMeta& meta = output.impl().autograd_meta();
  meta.grad_fn = std::move(node);
  meta.requires_grad = true;
}

TensorList AccumulateGrad::backward(const Tensor& grad_output, const NeedsGrad&) {
  NoGradGuard no_grad;
  Tensor leaf(leaf_);
  Tensor existing = leaf.grad();
  if (!existing.defined()) {
    // The incoming gradient may alias another tensor (add passes its
    // gradient through unchanged), so keep a private copy.
    const bool exclusive = grad_output.impl_ptr().use_count() == 1 &&
                           grad_output.storage().use_count() == 1 && grad_output.is_contiguous() &&
                           grad_output.nbytes() == grad_output.storage()->nbytes();
    leaf.set_grad(exclusive ? grad_output : clone(grad_output));
  } else {
    add_(existing, grad_output);
  }
  // A copy: a hook may add or remove hooks.
  const std::vector<std::pair<uint64_t, PostAccumulateGradHook>> hooks = post_hooks_;
  for (const auto& [id, hook] : hooks) hook(leaf);
  return {};
}

uint64_t AccumulateGrad::add_post_hook(PostAccumulateGradHook hook) {
  KILN_CHECK(hook != nullptr, "add_post_hook: empty hook");
  post_hooks_.emplace_back(next_hook_id_, std::move(hook));
  return next_hook_id_++;
}

void AccumulateGrad::remove_post_hook(uint64_t id) {
  std::erase_if(post_hooks_, [id](const auto& entry) { return entry.first == id; });
}

}  // namespace kiln::autograd
