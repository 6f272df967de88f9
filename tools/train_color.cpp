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
  const std::string& file(size_t i) const override { return files_[i]; }
  int input_channels() const override { return 1; }
  int target_channels() const override { return 2; }
  bool has_mask() const override { return false; }
  Tensor decode(size_t i) const override { return read_image(files_[i], 3); }

  void load_sample(size_t i, const Tensor& image, int size, Rng& rng, float* x, float* y,
                   float*) const override {
    const int64_t plane = int64_t(size) * size;
    ColorizationPair pair = colorization_pair(random_square_crop(image, size, rng, files_[i]));
    std::copy_n(pair.input.to(DType::F32).data<float>(), plane, x);
    std::copy_n(pair.target.to(DType::F32).data<float>(), 2 * plane, y);
  }

  Var reconstruction_loss(const Var& prediction, const Tensor& y, const Tensor&) const override {
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
