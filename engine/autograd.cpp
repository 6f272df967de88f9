#include "engine/autograd.h"

#include <unordered_set>

#include "engine/backend.h"
#include "engine/layout.h"

namespace steady {

namespace {
thread_local bool g_grad_enabled = true;
}

bool grad_enabled() { return g_grad_enabled; }
NoGradGuard::NoGradGuard() : previous_(g_grad_enabled) { g_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { g_grad_enabled = previous_; }

Var::Var(Tensor value, bool requires_grad) : node_(std::make_shared<Node>()) {
  node_->value = std::move(value);
  node_->requires_grad = requires_grad;
}

Var Var::make(Tensor value, const char* op, std::vector<Var> inputs,
              std::function<void(Node& self)> backward) {
  Var out(std::move(value), false);
  out.node_->op = op;
  if (!g_grad_enabled) return out;
  bool needs = false;
  for (const Var& v : inputs) needs = needs || v.requires_grad();
  if (!needs) return out;
  out.node_->requires_grad = true;
  out.node_->inputs.reserve(inputs.size());
  for (const Var& v : inputs) out.node_->inputs.push_back(v.node_);
  out.node_->backward = std::move(backward);
  return out;
}

void accumulate_grad_slice(Node& node, int64_t offset, const Tensor& g) {
  if (!node.requires_grad) return;
  STEADY_CHECK(offset >= 0 && offset + g.numel() <= node.value.numel(), "autograd: gradient ",
               g.str(), " at offset ", offset, " for ", node.value.str());
  if (!node.grad.defined()) {
    node.grad = Tensor::empty_like(node.value);
    backend_of(node.grad).fill(node.grad, 0.0);
  }
  Tensor part = node.grad.view(offset, g.shape());
  backend_of(part).accumulate(part, relayout(g, part.layout()), 1.0);
}

void accumulate_grad(Node& node, const Tensor& g) {
  if (!node.requires_grad) return;
  // Each value gets its gradient in its own layout (engine/layout.h).
  if (g.layout() != node.value.layout()) return accumulate_grad(node, relayout(g, node.value.layout()));
  STEADY_CHECK(g.shape() == node.value.shape(), "autograd: gradient ", g.str(), " for ",
               node.value.str(), " from op ", node.op);
  if (!node.grad.defined()) {
    // A gradient nobody else holds (the usual fresh output of a backward op) is adopted; one
    // that is shared (an incoming gradient passed straight through, a view) is copied, because
    // later accumulation writes into node.grad in place.
    node.grad = g.sole_owner() ? g : g.clone();
  } else {
    backend_of(node.grad).accumulate(node.grad, g, 1.0);
  }
}

void backward(const Var& loss) {
  STEADY_CHECK(loss.defined() && loss.value().numel() == 1, "backward: the loss must have one ",
               "element, got ", loss.defined() ? loss.value().str() : "undefined");
  if (!loss.requires_grad()) return;
  // Iterative post-order DFS: deep networks must not overflow the stack. `order` owns the
  // nodes, so clearing a node's inputs below never frees one still waiting its turn.
  std::vector<NodePtr> order;
  std::unordered_set<Node*> seen;
  std::vector<std::pair<NodePtr, size_t>> stack{{loss.node(), 0}};
  seen.insert(loss.node().get());
  while (!stack.empty()) {
    auto& [node, next] = stack.back();
    if (next < node->inputs.size()) {
      const NodePtr& in = node->inputs[next++];
      if (in->requires_grad && !seen.count(in.get())) {
        seen.insert(in.get());
        stack.push_back({in, 0});
      }
    } else {
      order.push_back(node);
      stack.pop_back();
    }
  }
  Node& root = *loss.node();
  Tensor seed = Tensor::full(root.value.shape(), 1.0, root.value.device(), root.value.dtype());
  accumulate_grad(root, seed);
  NoGradGuard no_grad;
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    Node* n = it->get();
    if (n->backward && n->grad.defined()) n->backward(*n);
    // Free what this step captured; interior gradients are not needed any more either.
    n->backward = nullptr;
    if (!n->inputs.empty()) {
      n->inputs.clear();
      if (n != &root) n->grad = Tensor();
    }
  }
}

}  // namespace steady
