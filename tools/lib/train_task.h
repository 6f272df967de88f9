// What a training tool supplies to the shared trainer (tools/lib/trainer.h): its files, how one
// training sample is made from a decoded image, and the reconstruction loss. Samples are made on
// the batch loader's worker threads (tools/lib/batch_loader.h), so decode and load_sample must be
// safe to call concurrently.
#pragma once
#include <string>

#include "engine/ops.h"
#include "engine/rng.h"

namespace steady {

class TrainTask {
 public:
  virtual ~TrainTask() = default;
  virtual std::string task() const = 0;  // "hdr" or "color"
  // Finds the training files under folder; throws a clear error when there are none.
  virtual void open(const std::string& folder) = 0;
  virtual size_t size() const = 0;
  virtual const std::string& file(size_t i) const = 0;  // sample i's file, for messages
  virtual int input_channels() const = 0;
  virtual int target_channels() const = 0;
  virtual bool has_mask() const = 0;  // whether samples carry a [1,H,W] loss mask

  // Sample i's image, decoded ([C,H,W] float32 on the CPU); the loader caches it.
  virtual Tensor decode(size_t i) const = 0;
  // One training sample from sample i's decoded image, as size x size crops written to x
  // [input_channels*size*size], y [target_channels*size*size] and, when has_mask(), mask
  // [size*size]; every random draw from rng.
  virtual void load_sample(size_t i, const Tensor& image, int size, Rng& rng, float* x, float* y,
                           float* mask) const = 0;
  // L_rec of a prediction for the whole batch (mask undefined when the task has none).
  virtual Var reconstruction_loss(const Var& prediction, const Tensor& y, const Tensor& mask) const = 0;
};

}  // namespace steady
