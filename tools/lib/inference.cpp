#include "tools/lib/inference.h"

#include <nlohmann/json.hpp>

#include "data/metrics.h"
#include "engine/checkpoint.h"

namespace steady {

void add_frame_run_options(Cli& cli) {
  cli.option("device", "auto", "auto, cpu or cuda");
  cli.option("batch", "8", "frames per forward pass");
  cli.option("max-frames", "0", "only the first N frames (0: all)");
  cli.option("max-side", "0", "video files: scale frames so the longer side is at most N (0: full size)");
}

FrameRunOptions frame_run_options(const Cli& cli) {
  FrameRunOptions o;
  o.device = parse_device(cli.get("device"));
  o.batch = static_cast<int>(cli.get_int("batch", 1, 4096));
  STEADY_CHECK(o.batch >= 1 && o.batch <= 4096, "--batch must be in [1, 4096]");
  o.max_frames = cli.get_int("max-frames", 0, INT64_MAX);
  o.max_side = cli.get_int("max-side", 0, 65536);
  STEADY_CHECK(o.max_frames >= 0 && o.max_side >= 0, "--max-frames and --max-side must be >= 0");
  return o;
}

LoadedModel load_model(const std::string& path, Device device) {
  CheckpointMeta meta = read_checkpoint_meta(path);
  const std::string task = checkpoint_task(path, meta);
  STEADY_CHECK(task == "hdr" || task == "color", path, " is not a Steady model checkpoint ",
               "(no task hdr or color in its config)");
  LoadedModel m{path, make_model(task)};
  Rng rng(0);
  m.model->finalize(device, rng);
  load_checkpoint(path, m.model->params(), nullptr);
  return m;
}

// Runs model over input frames [Cin,H,W] in chunks; returns its raw outputs [Cout,H,W] on the CPU.
std::vector<Tensor> run_model(Model& model, const std::vector<Tensor>& input, Device device,
                              int chunk) {
  NoGradGuard no_grad;
  std::vector<Tensor> out;
  const int64_t C = input[0].size(0), H = input[0].size(1), W = input[0].size(2);
  const int64_t in_plane = C * H * W, out_plane = model.out_channels() * H * W;
  for (size_t begin = 0; begin < input.size(); begin += chunk) {
    size_t n = std::min(input.size() - begin, static_cast<size_t>(chunk));
    std::vector<float> x(n * in_plane);
    for (size_t i = 0; i < n; ++i)
      std::copy_n(input[begin + i].data<float>(), in_plane, x.data() + i * in_plane);
    Tensor y = model.forward(Var(Tensor::from_vector(x, {int64_t(n), C, H, W}, device)), false)
                   .value().to(Device::CPU);
    for (size_t i = 0; i < n; ++i)
      out.push_back(y.view(int64_t(i) * out_plane, {model.out_channels(), H, W}).clone());
  }
  return out;
}

Tensor crop_top_left(const Tensor& img, int64_t h, int64_t w) {
  const int64_t C = img.size(0), H = img.size(1), W = img.size(2);
  if (h == H && w == W) return img;
  const Tensor src = img.dtype() == DType::F32 ? img : img.to(DType::F32);
  Tensor out = Tensor::empty({C, h, w});
  for (int64_t c = 0; c < C; ++c)
    for (int64_t y = 0; y < h; ++y)
      std::copy_n(src.data<float>() + (c * H + y) * W, w, out.data<float>() + (c * h + y) * w);
  return out;
}

// Linear HDR frames from the HDR model's log-domain outputs.
std::vector<Tensor> hdr_from_log(const std::vector<Tensor>& log_frames) {
  std::vector<Tensor> out;
  for (const Tensor& f : log_frames) {
    out.push_back(affine(exp(f), 1.0, -kHdrLogEps));
  }
  return out;
}

}  // namespace steady
