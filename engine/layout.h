// Blocked activations on the CPU (Layout::Blocked16, see engine/tensor.h).
//
// oneDNN's CPU convolutions compute in nChw16c. With plain NCHW activations every convolution
// reorders its input, output and gradients in and out of that layout: a fifth of a training step
// on the CPU (docs/BENCHMARKS.md). Inside a BlockedLayoutScope, a float32 CPU convolution whose
// output has a multiple of 16 channels leaves it blocked, and the ops between convolutions in the
// models (relu, leaky relu, batch norm, 2x2 max pooling, nearest upsampling, concatenation, the
// gradient sums of the tape) read and write that layout as it is. Every other op takes plain
// tensors only (Tensor::data refuses blocked ones); concat_channels turns mixed inputs plain,
// and the tape hands each input its gradient in the input's own layout. The values are those of
// the plain run: bit for bit where an op moves values or computes each element alone (the
// convolutions are the same oneDNN kernels), to rounding where it sums (batch norm, the bias
// gradient: their blocked loops add in an order of their own). Tested op by op in
// tests/test_ops/layout.cpp and on both models in tests/test_models.cpp. STEADY_BLOCKED=0 in the
// environment turns the layout off.
#pragma once
#include "engine/tensor.h"

namespace steady {

// A copy of t in the other layout (t itself when it is already there).
Tensor relayout(const Tensor& t, Layout to);
inline Tensor plain(const Tensor& t) { return relayout(t, Layout::Plain); }

// While one is alive on this thread, and unless set_blocked_layout(false), convolutions on
// float32 CPU inputs produce blocked outputs where the channel count allows.
class BlockedLayoutScope {
 public:
  explicit BlockedLayoutScope(const Tensor& input);
  ~BlockedLayoutScope();
  BlockedLayoutScope(const BlockedLayoutScope&) = delete;
  BlockedLayoutScope& operator=(const BlockedLayoutScope&) = delete;

 private:
  bool previous_;
};

// The process-wide switch, on unless the environment sets STEADY_BLOCKED=0: off, the scopes do
// nothing and every tensor is plain.
void set_blocked_layout(bool on);

// Whether an op's output of `channels` channels computed from x should be blocked now.
bool blocked_output(const Tensor& x, int64_t channels);

}  // namespace steady
