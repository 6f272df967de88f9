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
  std::string task() const override { return "hdr"; }

  void open(const std::string& folder) override {
    files_ = list_images(folder, /*hdr_only=*/true);
    STEADY_CHECK(!files_.empty(), folder, " holds no HDR images (.exr or .hdr)");
  }
  size_t size() const override { return files_.size(); }
  const std::string& file(size_t i) const override { return files_[i]; }
  int input_channels() const override { return 3; }
  int target_channels() const override { return 3; }
  bool has_mask() const override { return true; }
  Tensor decode(size_t i) const override { return read_image(files_[i], 3); }

  void load_sample(size_t i, const Tensor& image, int size, Rng& rng, float* x, float* y,
                   float* mask) const override {
    const int64_t plane = int64_t(size) * size;
    Tensor crop = random_square_crop(image, size, rng, files_[i]);
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

 private:
  std::vector<std::string> files_;
};

int train_main(int argc, char** argv) {
  Cli cli("train_hdr", "DATA [options]\n\nDATA: a folder of HDR images (.exr, .hdr)");
  add_training_options(cli);
  if (!cli.parse(argc, argv)) return 0;
  HdrTask task;
  return run_training(task, cli);
}

}  // namespace

int main(int argc, char** argv) { return run_tool("train_hdr", train_main, argc, argv); }
