// train_hdr: trains the HDR reconstruction autoencoder on a folder of HDR images (.exr, .hdr),
// optionally with one of the paper's temporal regularizers.
//   ./train_hdr data/train --epochs 20 --out runs/base
//   ./train_hdr data/train --init runs/base/last.safetensors --reg jacobian --alpha 0.95 --out runs/jac
// Each sample: a random crop (scaled to --size when the image is larger), a random flip, and
// the virtual camera (data/camera.h) for the LDR input. Target and loss live in the network's
// log domain, log(e * hdr + 1/255), over the saturated pixels (the mask from the exposed ground
// truth), as in the authors' training code.
#include <cstdio>

#include "data/camera.h"
#include "data/image_io.h"
#include "data/metrics.h"
#include "losses/regularizers.h"
#include "models/hdr_autoencoder.h"
#include "tools/lib/trainer.h"

using namespace steady;

namespace {

class HdrTask final : public TrainTask {
 public:
  HdrTask() : TrainTask({"hdr", 3, 3, /*has_mask=*/true, /*hdr_images=*/true}) {}

  void load_sample(size_t i, const Tensor& image, int size, Rng& rng, float* x, float* y,
                   float* mask) const override {
    const int64_t plane = int64_t(size) * size;
    Tensor crop = random_square_crop(image, size, rng, file(i));
    CameraParams cam = sample_camera(crop, rng);
    Tensor ldr = apply_camera(crop, cam);
    Tensor exposed = scale(crop, cam.exposure);
    std::copy_n(ldr.data<float>(), 3 * plane, x);
    std::copy_n(hdr_log(exposed).data<float>(), 3 * plane, y);
    std::copy_n(saturation_mask(exposed).data<float>(), plane, mask);
  }

  // Masked L2 in the log domain: sum(m (pred - y)^2) / (3 sum(m)).
  Var reconstruction_loss(const Var& prediction, const Tensor& y, const Tensor& mask) const override {
    return masked_mse(prediction, y, mask);
  }
};

int train_main(int argc, char** argv) {
  HdrTask task;
  return training_main(task, "a folder of HDR images (.exr, .hdr)", argc, argv);
}

}  // namespace

int main(int argc, char** argv) { return run_tool("train_hdr", train_main, argc, argv); }
