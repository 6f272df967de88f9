#include "tools/lib/hdr_task.h"

#include <algorithm>

#include "data/metrics.h"
#include "losses/regularizers.h"

namespace steady {

void HdrTask::sample_of_crop(const Tensor& crop, Rng& rng, float* x, float* y, float* mask) const {
  sample_of(crop, sample_camera(crop, rng), x, y, mask);
}

void HdrTask::sample_of(const Tensor& crop, const CameraParams& cam, float* x, float* y, float* mask) {
  const int64_t plane = crop.size(1) * crop.size(2);
  const CameraShot shot = expose(crop, cam);
  std::copy_n(shot.ldr.data<float>(), 3 * plane, x);
  std::copy_n(hdr_log(shot.exposed).data<float>(), 3 * plane, y);
  std::copy_n(saturation_mask(shot.exposed).data<float>(), plane, mask);
}

Var HdrTask::reconstruction_loss(const Var& prediction, const Tensor& y, const Tensor& mask) const {
  return masked_mse(prediction, y, mask);
}

}  // namespace steady
