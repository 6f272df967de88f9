// train_color: trains the colorization autoencoder on a folder of photos (.png, .jpg),
// optionally with one of the paper's temporal regularizers.
//   ./train_color data/real/faces --epochs 50 --out runs/color-base
//   ./train_color data/real/faces --init runs/color-base/last.safetensors --reg trans-inv --out runs/color-ti
// Each sample: a random crop scaled to --size, a random flip, then CIE Lab (data/color.h): the
// network sees L/50 - 1 and predicts ab/110; the reconstruction loss is L2 on ab.
#include "data/color.h"
#include "data/image_io.h"
#include "tools/lib/trainer.h"

using namespace steady;

namespace {

class ColorTask final : public TrainTask {
 public:
  ColorTask() : TrainTask({"color", 1, 2, /*has_mask=*/false, /*hdr_images=*/false}) {}

  void sample_of_crop(const Tensor& crop, Rng&, float* x, float* y, float*) const override {
    const int64_t plane = crop.size(1) * crop.size(2);
    ColorizationPair pair = colorization_pair(crop);
    std::copy_n(pair.input.to(DType::F32).data<float>(), plane, x);
    std::copy_n(pair.target.to(DType::F32).data<float>(), 2 * plane, y);
  }

  Var reconstruction_loss(const Var& prediction, const Tensor& y, const Tensor&) const override {
    return mse(prediction, Var(y));
  }
};

int train_main(int argc, char** argv) {
  ColorTask task;
  return training_main(task, "a folder of photos (.png, .jpg)", argc, argv);
}

}  // namespace

int main(int argc, char** argv) { return run_tool("train_color", train_main, argc, argv); }
