// The training loop shared by train_hdr and train_color: options, data order, the regularized
// step, progress on the terminal, a CSV log, checkpoints each epoch and on Ctrl-C, and exact
// resumption. A TrainTask supplies what differs: the model, the data and the reconstruction loss.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "engine/ops.h"
#include "models/model.h"
#include "tools/lib/cli.h"

namespace steady {

struct Batch {
  Tensor x;     // network input [B,Cin,H,W]
  Tensor y;     // target in the network's output domain [B,Cout,H,W]
  Tensor mask;  // [B,1,H,W] where the losses count (undefined: everywhere)
};

class TrainTask {
 public:
  virtual ~TrainTask() = default;
  virtual std::string task() const = 0;  // "hdr" or "color"
  // Finds the training files under folder; throws a clear error when there are none.
  virtual void open(const std::string& folder) = 0;
  virtual size_t size() const = 0;
  // Loads samples idx as one batch of size x size crops, with all randomness from rng.
  virtual Batch load_batch(const std::vector<size_t>& idx, int size, Rng& rng, Device device) = 0;
  // L_rec for a prediction of the whole batch.
  virtual Var reconstruction_loss(const Var& prediction, const Tensor& y, const Tensor& mask) = 0;
};

// A random square crop of img [C,H,W] (side between size and the short side), scaled to
// size x size, flipped left-right with probability 1/2. what names the image in errors.
Tensor random_square_crop(const Tensor& img, int size, Rng& rng, const std::string& what);

// Declares the options common to both training tools.
void add_training_options(Cli& cli);
// Runs a whole training (or --summary) for task; returns the exit code.
int run_training(TrainTask& task, const Cli& cli);

}  // namespace steady
