// HDR reconstruction's training samples (train_hdr): a random crop, a virtual camera drawn for
// it (data/camera.h), the camera's LDR image as the input, and as the target the exposed crop in
// the network's log domain, log(e * hdr + 1/255), under the soft mask of its saturated pixels, as
// in the authors' training code. The camera is applied once, by expose(), the same function the
// evaluation uses (tools/lib/evaluation.h, hdr_eval_frame).
#pragma once
#include "data/camera.h"
#include "tools/lib/train_task.h"

namespace steady {

class HdrTask final : public TrainTask {
 public:
  HdrTask() : TrainTask({"hdr", 3, 3, /*has_mask=*/true, /*hdr_images=*/true}) {}

  // A camera drawn for the crop (sample_camera), then sample_of.
  void sample_of_crop(const Tensor& crop, Rng& rng, float* x, float* y, float* mask) const override;
  // The sample of a crop [3,S,S] through a given camera: x the LDR input, y the log target,
  // mask [S,S].
  static void sample_of(const Tensor& crop, const CameraParams& cam, float* x, float* y, float* mask);

  // Masked L2 in the log domain: sum(m (pred - y)^2) / (3 sum(m)).
  Var reconstruction_loss(const Var& prediction, const Tensor& y, const Tensor& mask) const override;
};

}  // namespace steady
