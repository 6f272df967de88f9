// infer: runs a trained model on an image, a folder, an image sequence or a video.
//   ./infer photo.png out.exr --model runs/hdr/last.safetensors      (HDR: LDR in, EXR out)
//   ./infer clip.mp4 colorized.mp4 --model runs/color/last.safetensors
//   ./infer frames/ out/ --model ...                                  (a folder of frames out)
// The task comes from the checkpoint. HDR: the input is an LDR image in [0, 1]; the output is
// linear HDR (EXR) whose clip point is 1. Color: the input's lightness is colorized; the output
// is sRGB (PNG). OUT ending in .mp4 writes a video through ffmpeg (HDR tone-mapped with gamma
// 2.2 for viewing); an image name writes one image (single-frame input only); anything else is
// a folder of frame_NNNN files.
#include <cstdio>
#include <filesystem>

#include "data/color.h"
#include "data/image_io.h"
#include "data/sequence.h"
#include "data/video.h"
#include "tools/lib/cli.h"
#include "tools/lib/inference.h"

using namespace steady;
namespace fs = std::filesystem;

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Frames cropped to the size the network can take (multiples of 16 or 8), top-left.
Tensor crop_to_multiple(const Tensor& img, int64_t m) {
  const int64_t C = img.size(0), H = img.size(1) / m * m, W = img.size(2) / m * m;
  STEADY_CHECK(H > 0 && W > 0, "infer: frames smaller than ", m, "x", m);
  if (H == img.size(1) && W == img.size(2)) return img;
  Tensor out = Tensor::empty({C, H, W});
  const float* s = img.data<float>();
  float* d = out.data<float>();
  for (int64_t c = 0; c < C; ++c)
    for (int64_t y = 0; y < H; ++y)
      for (int64_t x = 0; x < W; ++x) d[(c * H + y) * W + x] = s[(c * img.size(1) + y) * img.size(2) + x];
  return out;
}

int infer_main(int argc, char** argv) {
  Cli cli("infer", "IN OUT --model CKPT [options]\n\n"
                   "IN: an image, a folder of frames, a printf pattern, a multi-part EXR or a video\n"
                   "OUT: an image file, a folder, or a .mp4 video");
  cli.option("model", "", "the checkpoint to run");
  cli.option("device", "auto", "auto, cpu or cuda");
  cli.option("batch", "8", "frames per forward pass");
  cli.option("max-frames", "0", "only the first N frames (0: all)");
  cli.option("max-side", "0", "video input: scale frames so the longer side is at most N");
  cli.option("fps", "", "frame rate of a video output (default: the input's, else 25)");
  if (!cli.parse(argc, argv)) return 0;
  STEADY_CHECK(cli.positional().size() == 2, "expected IN and OUT (see --help)");
  STEADY_CHECK(!cli.get("model").empty(), "expected --model CKPT");
  const std::string in = cli.positional()[0], out = cli.positional()[1];
  Device device = parse_device(cli.get("device"));
  LoadedModel m = load_model(cli.get("model"), device);
  const bool hdr = m.model->task() == "hdr";

  SequenceReadOptions opt;
  opt.channels = 3;
  opt.load_flow = false;
  opt.max_frames = cli.get_int("max-frames");
  opt.video_max_side = cli.get_int("max-side");
  Sequence seq = read_sequence(in, opt);
  std::vector<Tensor> input;
  for (const Tensor& f : seq.frames) {
    Tensor frame = crop_to_multiple(f, hdr ? 16 : 8);
    input.push_back(hdr ? frame : colorization_input(frame).to(DType::F32));
  }
  std::fprintf(stderr, "infer: %zu frame(s) %lldx%lld through a %s model on %s\n", input.size(),
               (long long)input[0].size(2), (long long)input[0].size(1), m.model->task().c_str(),
               device_name(device));
  std::vector<Tensor> pred = run_model(*m.model, input, device,
                                       static_cast<int>(std::max<int64_t>(1, cli.get_int("batch"))));
  std::vector<Tensor> result;  // HDR: linear EXR frames; color: sRGB frames
  if (hdr) {
    result = hdr_from_log(pred);
  } else {
    for (size_t t = 0; t < pred.size(); ++t) result.push_back(colorization_to_srgb(input[t], pred[t]));
  }

  auto viewable = [&](const Tensor& f) {  // HDR tone-mapped for 8-bit outputs
    if (!hdr) return f;
    Tensor l = cpu_backend().unary(UnaryOp::Log, cpu_backend().scale_shift(f, 1.0, 1e-8), 0.f);
    return cpu_backend().unary(UnaryOp::Exp, cpu_backend().scale_shift(l, 1 / 2.2, 0.0), 0.f);
  };
  auto write_frame = [&](const std::string& path, const Tensor& f) {
    if (hdr && has_exr_extension(path)) {
      write_exr(path, f);
    } else {
      write_png(path, viewable(f));
    }
  };
  if (ends_with(out, ".mp4")) {
    std::vector<Tensor> frames;
    for (const Tensor& f : result) frames.push_back(viewable(f));
    double fps = cli.has("fps") ? cli.get_double("fps") : (seq.fps > 0 ? seq.fps : 25.0);
    write_video(out, frames, fps);
  } else if (has_image_extension(out)) {
    STEADY_CHECK(result.size() == 1, "OUT ", out, " names one image but IN has ", result.size(),
                 " frames: give a folder or a .mp4");
    write_frame(out, result[0]);
  } else {
    fs::create_directories(out);
    for (size_t t = 0; t < result.size(); ++t) {
      char name[32];
      std::snprintf(name, sizeof name, "frame_%04zu.%s", t, hdr ? "exr" : "png");
      write_frame((fs::path(out) / name).string(), result[t]);
    }
  }
  std::fprintf(stderr, "infer: wrote %s\n", out.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return run_tool("infer", infer_main, argc, argv); }
