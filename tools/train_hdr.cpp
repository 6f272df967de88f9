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

  Batch load_batch(const std::vector<size_t>& idx, int size, Rng& rng, Device device) override {
    const int64_t B = static_cast<int64_t>(idx.size()), plane = int64_t(size) * size;
    std::vector<float> x(B * 3 * plane), y(B * 3 * plane), m(B * plane);
    for (int64_t i = 0; i < B; ++i) {
      Tensor crop = random_square_crop(read_image(files_[idx[i]], 3), size, rng, files_[idx[i]]);
      CameraParams cam = sample_camera(crop, rng);
      Tensor ldr = apply_camera(crop, cam);
      Tensor exposed = cpu_backend().scale_shift(crop, cam.exposure, 0.0);
      Tensor target = hdr_log(exposed);
      Tensor mask = saturation_mask(exposed);
      std::copy_n(ldr.data<float>(), 3 * plane, x.data() + i * 3 * plane);
      std::copy_n(target.data<float>(), 3 * plane, y.data() + i * 3 * plane);
      std::copy_n(mask.data<float>(), plane, m.data() + i * plane);
    }
    return {Tensor::from_vector(x, {B, 3, size, size}, device),
            Tensor::from_vector(y, {B, 3, size, size}, device),
            Tensor::from_vector(m, {B, 1, size, size}, device)};
  }

  // Masked L2 in the log domain: sum(m (pred - y)^2) / (3 sum(m)).
  Var reconstruction_loss(const Var& prediction, const Tensor& y, const Tensor& mask) override {
    Backend& b = backend_of(mask);
    double count = 3.0 * b.sum(mask).item();
    Var m3(b.concat_channels({mask, mask, mask}));
    Var d = sub(prediction, Var(y));
    return scale(sum(mul(m3, mul(d, d))), 1.0 / std::max(count, 1.0));
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
