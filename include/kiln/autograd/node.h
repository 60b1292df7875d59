// Autograd graph nodes. An op that records history creates one Node with an
// Edge per input; the edge points at the node that produced the input (or at
// the AccumulateGrad node of a leaf) and remembers the input's shape and
// dtype, so the engine can reduce broadcast gradients back to that shape.
//
// Every node has exactly one output. Saved tensors are stored detached (data
// only), so a node never keeps other nodes alive through them, and are freed
// after backward unless the graph is retained.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>
#include <utility>
#include <vector>

#include "kiln/tensor/tensor.h"

namespace kiln::autograd {

class Node;

struct Edge {
  std::shared_ptr<Node> node;  // null when the input needs no gradient
  Shape shape;
  DType dtype = DType::kF32;
  bool valid() const { return node != nullptr; }
};

// needs[i] tells backward whether input i wants a gradient.
using NeedsGrad = std::vector<bool>;

class Node {
 public:
  virtual ~Node() = default;
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // The op's name as in op_list.def ("matmul", "conv2d", ...).
  virtual std::string_view name() const = 0;
  // Gradients for each input given the gradient of the output. Entries whose
  // `needs` is false may be left undefined. A gradient may have the broadcast
  // output shape: the engine reduces it to the input's shape.
  virtual TensorList backward(const Tensor& grad_output, const NeedsGrad& needs) = 0;

  const std::vector<Edge>& edges() const { return edges_; }
  uint64_t sequence_nr() const { return sequence_nr_; }

  // Stores a detached copy of `t` and returns its slot.
  int save(const Tensor& t);
  // The saved tensor in `slot`; throws if the graph was freed by a backward
  // pass without retain_graph.
  const Tensor& saved(int slot) const;
  void release_saved();

 protected:
  Node() = default;

 private:
  friend void set_edges(Node& node, const TensorList& inputs);
  std::vector<Edge> edges_;
  std::vector<Tensor> saved_;
  bool released_ = false;
  uint64_t sequence_nr_ = 0;
};

// Deletes nodes iteratively, so dropping the last reference to a very deep
// graph cannot overflow the stack. make_node installs it.
struct NodeDeleter {
  void operator()(Node* node) const;
};

// True if grad mode is on and any input requires grad.
bool any_requires_grad(const TensorList& inputs);

// Sets the node's edges from its inputs and assigns its sequence number.
void set_edges(Node& node, const TensorList& inputs);

// Creates a node of type N connected to `inputs`. Call only when
// any_requires_grad(inputs).
template <class N, class... Args>
std::shared_ptr<N> make_node(const TensorList& inputs, Args&&... args) {
  std::shared_ptr<N> node(new N(std::forward<Args>(args)...), NodeDeleter());
  set_edges(*node, inputs);
  return node;
}

// Makes `node` the grad_fn of `output` (output becomes a non-leaf requiring grad).
void set_history(Tensor& output, std::shared_ptr<Node> node);

// Called with the leaf after a backward pass accumulated into its grad()
// (see kiln/autograd/hooks.h).
using PostAccumulateGradHook = std::function<void(const Tensor& leaf)>;

// Gradient accumulation into a leaf. It runs once per backward pass that
// reaches the leaf (the engine sums every path first), then runs its hooks
// in the order they were added.
class AccumulateGrad final : public Node {
 public:
  explicit AccumulateGrad(std::shared_ptr<TensorImpl> leaf) : leaf_(std::move(leaf)) {}
  const std::shared_ptr<TensorImpl>& leaf() const { return leaf_; }
  std::string_view name() const override { return "accumulate_grad"; }
  TensorList backward(const Tensor& grad_output, const NeedsGrad& needs) override;

  // Returns an id for remove_post_hook.
  uint64_t add_post_hook(PostAccumulateGradHook hook);
  void remove_post_hook(uint64_t id);

 private:
  std::shared_ptr<TensorImpl> leaf_;
  std::vector<std::pair<uint64_t, PostAccumulateGradHook>> post_hooks_;
  uint64_t next_hook_id_ = 0;
};

// The AccumulateGrad node of a leaf that requires grad: the live one if a
// graph or a hook holds it, else a new one the leaf caches (weakly) for the
// graphs recorded while it is alive. Throws for non-leaves.
std::shared_ptr<AccumulateGrad> grad_accumulator(const Tensor& leaf);

}  // namespace kiln::autograd
