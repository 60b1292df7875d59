#include "kiln/autograd/engine.h"

#include <algorithm>
#include <queue>
#include <unordered_map>
#include <unordered_set>

#include "kiln/autograd/grad_mode.h"
#include "kiln/autograd/node.h"
#include "kiln/ops/binary.h"
#include "kiln/ops/cast.h"
#include "kiln/ops/reduce.h"

namespace kiln::autograd {
namespace {

struct LaterFirst {
  bool operator()(const Node* a, const Node* b) const {
    return a->sequence_nr() < b->sequence_nr();
  }
};

// Brings a gradient to the shape and dtype its edge expects.
Tensor fit_to_edge(Tensor grad, const Edge& edge, const Node& producer) {
  if (grad.shape() != edge.shape) {
    grad = sum_to(grad, edge.shape);
  }
  KILN_CHECK(grad.shape() == edge.shape, "backward of ", producer.name(), ": gradient of shape ",
             shape_str(grad.shape()), " does not fit input of shape ", shape_str(edge.shape));
  if (grad.dtype() != edge.dtype) grad = to_dtype(grad, edge.dtype);
  return grad;
}

// Counts, for every node reachable from `root`, how many edges point at it.
std::unordered_map<Node*, int> count_dependencies(Node* root) {
  std::unordered_map<Node*, int> deps;
  std::vector<Node*> stack{root};
  std::unordered_set<Node*> seen{root};
  while (!stack.empty()) {
    Node* node = stack.back();
    stack.pop_back();
    for (const Edge& edge : node->edges()) {
      if (!edge.valid()) continue;
      Node* next = edge.node.get();
      ++deps[next];
      if (seen.insert(next).second) stack.push_back(next);
    }
  }
  return deps;
}

// The nodes below `root` from which a captured node can be reached (the
// captured ones included). An edge always points at an older node (smaller
// sequence number), so one pass from the oldest node settles each node after
// everything below it.
std::unordered_set<Node*> nodes_reaching(Node* root, const std::unordered_map<Node*, int>& deps,
                                         const std::unordered_map<Node*, size_t>& captures) {
  std::vector<Node*> nodes{root};
  for (const auto& entry : deps) nodes.push_back(entry.first);
  std::sort(nodes.begin(), nodes.end(),
            [](const Node* a, const Node* b) { return a->sequence_nr() < b->sequence_nr(); });
  std::unordered_set<Node*> reaching;
  for (Node* node : nodes) {
    bool reaches = captures.count(node) > 0;
    for (const Edge& edge : node->edges()) {
      reaches = reaches || (edge.valid() && reaching.count(edge.node.get()) > 0);
    }
    if (reaches) reaching.insert(node);
  }
  return reaching;
}

// Runs the graph below `root`. If `captured` is given, gradients reaching the
// nodes in `captures` are stored in it, leaves are left untouched, and only
// the nodes on a path to a captured node run.
void execute(const std::shared_ptr<Node>& root, Tensor grad_root, bool retain_graph,
             const std::unordered_map<Node*, size_t>& captures, TensorList* captured) {
  NoGradGuard no_grad;
  std::unordered_map<Node*, int> deps = count_dependencies(root.get());
  std::unordered_map<Node*, Tensor> buffers;
  std::priority_queue<Node*, std::vector<Node*>, LaterFirst> ready;
  buffers[root.get()] = std::move(grad_root);
  ready.push(root.get());
  const bool capture_mode = captured != nullptr;
  const std::unordered_set<Node*> reaching =
      capture_mode ? nodes_reaching(root.get(), deps, captures) : std::unordered_set<Node*>();

  while (!ready.empty()) {
    Node* node = ready.top();
    ready.pop();
    Tensor grad_output = std::move(buffers[node]);
    buffers.erase(node);

    if (capture_mode) {
      auto it = captures.find(node);
      if (it != captures.end()) (*captured)[it->second] = grad_output;
    }

    const std::vector<Edge>& edges = node->edges();
    NeedsGrad needs(edges.size());
    bool any_needed = false;
    for (size_t i = 0; i < edges.size(); ++i) {
      needs[i] = edges[i].valid() && (!capture_mode || reaching.count(edges[i].node.get()) > 0);
      any_needed = any_needed || needs[i];
    }
    // Nothing captured below this node (a leaf's accumulator included): skip it.
    if (capture_mode && !any_needed) continue;
    TensorList grads;
    if (grad_output.defined()) grads = node->backward(grad_output, needs);
    grad_output = Tensor();
    if (!retain_graph) node->release_saved();

    for (size_t i = 0; i < edges.size(); ++i) {
      const Edge& edge = edges[i];
      if (!needs[i]) continue;
      Node* next = edge.node.get();
      if (i < grads.size() && grads[i].defined()) {
        Tensor g = fit_to_edge(std::move(grads[i]), edge, *node);
        Tensor& buffer = buffers[next];
        buffer = buffer.defined() ? add(buffer, g) : std::move(g);
      }
      if (--deps[next] == 0) ready.push(next);
    }
  }
}

Tensor default_root_grad(const Tensor& root, const Tensor& grad_root) {
  if (grad_root.defined()) {
    KILN_CHECK(grad_root.shape() == root.shape(), "backward: gradient of shape ",
               shape_str(grad_root.shape()), " for an output of shape ", shape_str(root.shape()));
    return grad_root;
  }
  KILN_CHECK(root.numel() == 1, "backward: an output of shape ", shape_str(root.shape()),
             " needs an explicit gradient (only one-element outputs default to 1)");
  return ones(root.shape(), root.dtype());
}

std::shared_ptr<Node> root_node(const Tensor& t, const char* op) {
  KILN_CHECK(t.defined() && t.requires_grad(), op,
             ": the tensor does not require grad and has no grad_fn");
  if (t.grad_fn()) return t.grad_fn();
  // A leaf: route through its accumulator.
  TensorList inputs{t};
  class RootOp final : public Node {
   public:
    std::string_view name() const override { return "root"; }
    TensorList backward(const Tensor& g, const NeedsGrad&) override { return {g}; }
  };
  return make_node<RootOp>(inputs);
}

}  // namespace

void run_backward(const Tensor& root, const Tensor& grad_root, bool retain_graph) {
  std::shared_ptr<Node> node = root_node(root, "backward");
  execute(node, default_root_grad(root, grad_root), retain_graph, {}, nullptr);
}

TensorList grad(const TensorList& outputs, const TensorList& grad_outputs, const TensorList& inputs,
                bool retain_graph) {
  KILN_CHECK(outputs.size() == grad_outputs.size() || grad_outputs.empty(),
             "grad: ", outputs.size(), " outputs but ", grad_outputs.size(), " gradients");
  TensorList result(inputs.size());
  std::unordered_map<Node*, size_t> captures;
  // An input listed twice has one node: it is captured once and copied.
  std::vector<size_t> first_index(inputs.size());
  std::vector<std::shared_ptr<Node>> keep_alive;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& in = inputs[i];
    KILN_CHECK(in.defined() && in.requires_grad(), "grad: input ", i, " does not require grad");
    std::shared_ptr<Node> node = in.grad_fn();
    if (!node) {
      GradModeGuard enable(true);
      TensorList self{in};
      class Probe final : public Node {
       public:
        std::string_view name() const override { return "probe"; }
        TensorList backward(const Tensor&, const NeedsGrad&) override { return {}; }
      };
      auto probe = make_node<Probe>(self);
      node = probe->edges()[0].node;  // the leaf's accumulator
    }
    first_index[i] = captures.emplace(node.get(), i).first->second;
    keep_alive.push_back(std::move(node));
  }
  for (size_t k = 0; k < outputs.size(); ++k) {
    const Tensor g = grad_outputs.empty() ? Tensor() : grad_outputs[k];
    const bool last = k + 1 == outputs.size();
    TensorList partial(inputs.size());
    execute(root_node(outputs[k], "grad"), default_root_grad(outputs[k], g), retain_graph || !last,
            captures, &partial);
    NoGradGuard no_grad;
    for (size_t i = 0; i < inputs.size(); ++i) {
      if (!partial[i].defined()) continue;
      result[i] = result[i].defined() ? add(result[i], partial[i]) : partial[i];
    }
  }
  for (size_t i = 0; i < inputs.size(); ++i) result[i] = result[first_index[i]];
  return result;
}

}  // namespace kiln::autograd
