// What a training tool supplies to the shared trainer (tools/lib/trainer.h): which files are its
// training images, how one sample is made from a crop of a decoded image, and the
// reconstruction loss. Samples are made on the batch loader's worker threads
// (tools/lib/batch_loader.h), so decode and the sample functions must be safe to call
// concurrently.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "engine/ops.h"
#include "engine/rng.h"

namespace steady {

class TrainTask {
 public:
  // The task's name ("hdr" or "color"), the channels of a sample's input and target, whether
  // samples carry a [1,H,W] loss mask, and whether its training images are HDR (.exr, .hdr)
  // or photos (.png, .jpg).
  struct Kind {
    std::string task;
    int input_channels, target_channels;
    bool has_mask, hdr_images;
  };
  explicit TrainTask(Kind kind) : kind_(std::move(kind)) {}
  virtual ~TrainTask() = default;
  const std::string& task() const { return kind_.task; }
  int input_channels() const { return kind_.input_channels; }
  int target_channels() const { return kind_.target_channels; }
  bool has_mask() const { return kind_.has_mask; }

  // Finds the training files under folder; throws a clear error when there are none.
  void open(const std::string& folder);
  // The task's image files under folder (sorted), without opening them; throws when there are none.
  std::vector<std::string> find_files(const std::string& folder) const;
  size_t size() const { return files_.size(); }
  const std::string& file(size_t i) const { return files_[i]; }  // for messages
  // Sample i's image, decoded ([3,H,W] float32 on the CPU); the loader caches it.
  Tensor decode(size_t i) const;

  // One training sample from sample i's decoded image: a random square crop scaled to
  // size x size and flipped at random (random_square_crop), then sample_of_crop; every random
  // draw from rng.
  void load_sample(size_t i, const Tensor& image, int size, Rng& rng, float* x, float* y,
                   float* mask) const;
  // One validation sample, the same every time: the centred square of the image's short side
  // scaled to size x size, no flip, and sample_of_crop drawing from Rng(seed, index).
  void validation_sample(const Tensor& image, int size, uint64_t seed, uint64_t index, float* x,
                         float* y, float* mask) const;
  // The sample of a crop [3,S,S]: x [input_channels*S*S], y [target_channels*S*S] and, when
  // has_mask(), mask [S*S]; the task's own random draws (the HDR camera) from rng.
  virtual void sample_of_crop(const Tensor& crop, Rng& rng, float* x, float* y, float* mask) const = 0;
  // L_rec of a prediction for the whole batch (mask undefined when the task has none).
  virtual Var reconstruction_loss(const Var& prediction, const Tensor& y, const Tensor& mask) const = 0;

 private:
  Kind kind_;
  std::vector<std::string> files_;
};

}  // namespace steady
