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
  std::string task() const override { return "color"; }

  void open(const std::string& folder) override {
    for (const std::string& f : list_images(folder))
      if (!has_hdr_extension(f)) files_.push_back(f);
    STEADY_CHECK(!files_.empty(), folder, " holds no photos (.png or .jpg)");
  }
  size_t size() const override { return files_.size(); }

  Batch load_batch(const std::vector<size_t>& idx, int size, Rng& rng, Device device) override {
    const int64_t B = static_cast<int64_t>(idx.size()), plane = int64_t(size) * size;
    std::vector<float> x(B * plane), y(B * 2 * plane);
    for (int64_t i = 0; i < B; ++i) {
      Tensor crop = random_square_crop(read_image(files_[idx[i]], 3), size, rng, files_[idx[i]]);
      ColorizationPair pair = colorization_pair(crop);
      Tensor in = pair.input.to(DType::F32), target = pair.target.to(DType::F32);
      std::copy_n(in.data<float>(), plane, x.data() + i * plane);
      std::copy_n(target.data<float>(), 2 * plane, y.data() + i * 2 * plane);
    }
    return {Tensor::from_vector(x, {B, 1, size, size}, device),
            Tensor::from_vector(y, {B, 2, size, size}, device), Tensor()};
  }

  Var reconstruction_loss(const Var& prediction, const Tensor& y, const Tensor&) override {
    return mse(prediction, Var(y));
  }

 private:
  std::vector<std::string> files_;
};

int train_main(int argc, char** argv) {
  Cli cli("train_color", "DATA [options]\n\nDATA: a folder of photos (.png, .jpg)");
  add_training_options(cli);
  if (!cli.parse(argc, argv)) return 0;
  ColorTask task;
  return run_training(task, cli);
}

}  // namespace

int main(int argc, char** argv) { return run_tool("train_color", train_main, argc, argv); }
