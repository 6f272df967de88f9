// A small dynamic-tape autodiff in the style of flashlight's fl::Variable. A Var holds a value
// and, when it needs a gradient, a node with the closure that pushes its gradient to its inputs.
// backward(loss) orders the graph topologically (shared sub-graphs run once) and runs the
// closures; gradients accumulate. Each closure is dropped once it has run, so the activations
// it captured are freed as the backward pass goes.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace steady {

struct Node;
using NodePtr = std::shared_ptr<Node>;

struct Node {
  Tensor value;
  Tensor grad;  // undefined until something flows in; a leaf may point it at a preset buffer
  bool requires_grad = false;
  std::vector<NodePtr> inputs;
  // Reads this->grad and accumulates into the inputs' grads (through accumulate_grad).
  std::function<void(Node& self)> backward;
  const char* op = "leaf";
};

class Var {
 public:
  Var() = default;
  explicit Var(Tensor value, bool requires_grad = false);

  bool defined() const { return node_ != nullptr; }
  const Tensor& value() const { return node_->value; }
  Tensor& grad() const { return node_->grad; }
  bool requires_grad() const { return node_ && node_->requires_grad; }
  const Shape& shape() const { return node_->value.shape(); }
  Device device() const { return node_->value.device(); }
  const NodePtr& node() const { return node_; }

  // Builds an op result: records inputs and the backward closure when any input needs a grad
  // and grad mode is on; otherwise the result is a plain constant.
  static Var make(Tensor value, const char* op, std::vector<Var> inputs,
                  std::function<void(Node& self)> backward);

 private:
  NodePtr node_;
};

// Adds g into node's gradient (allocating it on first use). Used by backward closures.
void accumulate_grad(Node& node, const Tensor& g);
// Adds g into node.grad's contiguous elements [offset, offset + g.numel()) (zeros elsewhere
// when node.grad is not there yet): the backward of a view.
void accumulate_grad_slice(Node& node, int64_t offset, const Tensor& g);

// Runs the backward pass from a one-element loss (seeded with 1).
void backward(const Var& loss);

bool grad_enabled();
// Disables graph recording in its scope (evaluation, running-stat updates, optimizer).
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

}  // namespace steady
