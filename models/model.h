// What the two autoencoders share: parameters in one ParamStore, layers declared by name, a
// layer table for --summary, and the task the model is for (stored in checkpoints).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "engine/ops.h"
#include "engine/params.h"

namespace steady {

// How batch norm normalizes in a training forward pass: with the statistics of the batch (the
// 2B siamese batch under a regularizer), updating the running ones, or with the running
// statistics, frozen (gamma and beta still train). Inference always uses the running ones.
enum class BatchNormMode { Batch, Frozen };

// What a model is for and what it takes: the task ("hdr" or "color", stored in checkpoints),
// the channels in and out, and the multiple input height and width must be (the network's
// total down-sampling).
struct ModelKind {
  std::string task;
  int in_channels, out_channels, size_multiple;
};

class Model {
 public:
  explicit Model(ModelKind kind) : kind_(std::move(kind)) {}
  virtual ~Model() = default;
  // x: the network input batch [N,C,H,W]; training: a training pass (batch norm as
  // batch_norm_mode() says) rather than inference.
  virtual Var forward(const Var& x, bool training) = 0;
  void set_batch_norm_mode(BatchNormMode mode) { bn_mode_ = mode; }
  BatchNormMode batch_norm_mode() const { return bn_mode_; }
  const std::string& task() const { return kind_.task; }
  int in_channels() const { return kind_.in_channels; }
  int out_channels() const { return kind_.out_channels; }
  int size_multiple() const { return kind_.size_multiple; }

  ParamStore& params() { return store_; }
  const ParamStore& params() const { return store_; }
  // Allocates and initializes every parameter (He init for convs) on device.
  void finalize(Device device, Rng& rng) { store_.finalize(device, rng); }
  // Parameter count the way the paper's Table 2 counts it: conv weights and biases plus batch
  // norm's scale, shift, running mean and running variance.
  int64_t parameter_count() const { return store_.num_trainable() + store_.num_buffer_values(); }
  // The layer table, ending with "parameters: N".
  std::string summary() const;

 protected:
  struct Conv {
    int w = -1, b = -1;
    int stride = 1, pad = 0, output_pad = 0;
    bool transposed = false;
  };
  struct BatchNorm {
    int gamma = -1, beta = -1, mean = -1, var = -1;
  };
  Conv add_conv(const std::string& name, int ci, int co, int k, int stride = 1);
  // Transposed conv with kernel 4, stride 2, pad 1: doubles the resolution exactly.
  Conv add_upconv(const std::string& name, int ci, int co);
  BatchNorm add_batch_norm(const std::string& name, int c);

  Var apply(const Conv& c, const Var& x);
  Var apply(const BatchNorm& bn, const Var& x, bool training);

  ParamStore store_;

 private:
  ModelKind kind_;
  BatchNormMode bn_mode_ = BatchNormMode::Batch;
  struct Row {
    std::string name, kind;
    Shape shape;
    int64_t count;
  };
  std::vector<Row> rows_;
};

// Builds the model a task names ("hdr" or "color"); throws on an unknown task.
std::unique_ptr<Model> make_model(const std::string& task);

}  // namespace steady
