// Parameters in one flat buffer (as llm.c's train_gpt2.cu): every weight is a view into
// `values`, every gradient a view into `grads`, so zeroing grads, Adam and checkpoints each
// touch one contiguous block. Non-trained state (batch-norm running statistics) lives in a
// second flat buffer, `buffers`. Layers declare what they need, then finalize() allocates and
// initializes everything from the seeded RNG in declaration order (same on every device).
#pragma once
#include <string>
#include <vector>

#include "engine/autograd.h"
#include "engine/backend.h"
#include "engine/rng.h"

namespace steady {

enum class Init { Zeros, Ones, HeNormal, XavierUniform };

struct ParamEntry {
  std::string name;
  Shape shape;
  Init init;
  int64_t fan_in, fan_out;
  int64_t offset;  // in elements, into values/grads (trainable) or buffers
  bool trainable;
};

class ParamStore {
 public:
  // Declare a trained parameter or a buffer; returns its index. Only before finalize().
  int add_param(const std::string& name, const Shape& shape, Init init, int64_t fan_in = 1,
                int64_t fan_out = 1);
  int add_buffer(const std::string& name, const Shape& shape, Init init);

  void finalize(Device device, Rng& rng);
  bool finalized() const { return finalized_; }
  Device device() const { return device_; }

  const Var& param(int i) const { return vars_.at(i); }  // leaf whose grad views `grads`
  Tensor& buffer(int i) { return buffer_views_.at(i); }
  const std::vector<ParamEntry>& params() const { return params_; }
  const std::vector<ParamEntry>& buffers() const { return buffers_; }

  int64_t num_trainable() const { return num_values_; }
  int64_t num_buffer_values() const { return num_buffer_values_; }

  void zero_grad();
  // Moves everything to another device (used when loading a checkpoint onto the GPU).
  void to(Device device);

  Tensor values, grads, buffer_values;  // flat [P], [P], [B]

 private:
  void bind_views();
  std::vector<ParamEntry> params_, buffers_;
  std::vector<Var> vars_;
  std::vector<Tensor> buffer_views_;
  int64_t num_values_ = 0, num_buffer_values_ = 0;
  bool finalized_ = false;
  Device device_ = Device::CPU;
};

// Adam (Kingma & Ba) with optional decoupled weight decay, one fused update over the flat buffer.
class Adam {
 public:
  explicit Adam(AdamArgs args = {}) : args_(args) {}
  void attach(const ParamStore& store);  // allocates m and v (zeros) like store.values
  void step(ParamStore& store);
  AdamArgs& args() { return args_; }
  int64_t steps() const { return step_; }
  void set_steps(int64_t s) { step_ = s; }
  Tensor m, v;

 private:
  AdamArgs args_;
  int64_t step_ = 0;
};

}  // namespace steady
