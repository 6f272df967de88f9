// infer: runs a trained model on an image, a folder, an image sequence or a video.
//   ./infer photo.png out.exr --model runs/hdr/last.safetensors      (HDR: LDR in, EXR out)
//   ./infer clip.mp4 colorized.mp4 --model runs/color/last.safetensors
//   ./infer frames/ out/ --model ...                                  (a folder of frames out)
// The task comes from the checkpoint. HDR: the input is an LDR image in [0, 1]; the output is
// linear HDR (EXR) whose clip point is 1. Color: the input's lightness is colorized; the output
// is sRGB (PNG). OUT with a video extension (.mp4 .mkv .avi .mov .webm ...) writes a video
// through ffmpeg (HDR tone-mapped with gamma 2.2 for viewing); an image name writes one image
// (single-frame input only; HDR as .exr, or a .png preview); anything else is a folder of
// frame_NNNN files. Frames stream through: memory holds one --batch of them at a time.
#include <malloc.h>

#include <cmath>
#include <cstdio>
#include <memory>
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

int infer_main(int argc, char** argv) {
  Cli cli("infer", "IN OUT --model CKPT [options]\n\n"
                   "IN: an image, a folder of frames, a printf pattern, a multi-part EXR or a video\n"
                   "OUT: an image file, a folder, or a .mp4 video");
  cli.option("model", "", "the checkpoint to run");
  add_frame_run_options(cli);
  cli.option("fps", "", "frame rate of a video output (default: the input's, else 25)");
  if (!cli.parse(argc, argv)) return 0;
  STEADY_CHECK(cli.positional().size() == 2, "expected IN and OUT (see --help)");
  STEADY_CHECK(!cli.get("model").empty(), "expected --model CKPT");
  const std::string in = cli.positional()[0], out = cli.positional()[1];
  const FrameRunOptions run = frame_run_options(cli);
  const Device device = run.device;
  LoadedModel m = load_model(cli.get("model"), device);
  const bool hdr = m.model->task() == "hdr";

  SequenceReadOptions opt;
  opt.channels = 3;
  opt.load_flow = false;
  opt.max_frames = run.max_frames;
  opt.video_max_side = run.max_side;
  const int batch = run.batch;
  std::error_code ec;
  STEADY_CHECK(!fs::exists(out, ec) || !fs::equivalent(in, out, ec), "OUT is IN (", out,
               "): infer never overwrites its input");
  const SequenceInfo info = probe_sequence(in, opt);
  const bool video_out = has_video_extension(out), image_out = !video_out && has_image_extension(out);
  STEADY_CHECK(!image_out || info.frames == 1, "OUT ", out, " names one image but IN has ", info.frames,
               " frames: give a folder or a video file");
  STEADY_CHECK(!image_out || !hdr || has_exr_extension(out) || ends_with(out, ".png"),
               "OUT ", out, ": an HDR result is written as .exr (linear) or .png (a preview)");
  STEADY_CHECK(!image_out || hdr || ends_with(out, ".png"), "OUT ", out, ": colorized images are written as .png");

  // HDR previews for 8-bit outputs: the clip point at white, gamma 2.2; negatives are black.
  auto viewable = [&](const Tensor& f) {
    if (!hdr) return f;
    Tensor v = Tensor::empty(f.shape());
    const float* s = f.data<float>();
    float* o = v.data<float>();
    for (int64_t i = 0; i < f.numel(); ++i)
      o[i] = std::isfinite(s[i]) ? static_cast<float>(std::pow(std::max(0.f, s[i]), 1 / 2.2)) : 0.f;
    return v;
  };
  auto write_frame = [&](const std::string& path, const Tensor& f) {
    if (hdr && has_exr_extension(path)) {
      write_exr(path, f);
    } else {
      write_png(path, viewable(f));
    }
  };
  std::unique_ptr<VideoWriter> video;
  if (video_out) {
    const double fps = cli.has("fps") ? cli.get_double("fps") : (info.fps > 0 ? info.fps : 25.0);
    video = std::make_unique<VideoWriter>(out, fps);
  } else if (!image_out) {
    fs::create_directories(out);
  }
  // Frames stream through in chunks of --batch: memory holds one chunk whatever the length.
  std::vector<Tensor> chunk;
  int64_t written = 0;
  auto flush = [&] {
    if (chunk.empty()) return;
    std::vector<Tensor> pred = run_model(*m.model, chunk, device, batch);
    if (hdr) pred = hdr_from_log(pred);
    for (size_t i = 0; i < pred.size(); ++i, ++written) {
      const Tensor result = hdr ? pred[i] : colorization_to_srgb(chunk[i], pred[i]);
      if (video) {
        video->write(viewable(result));
      } else if (image_out) {
        write_frame(out, result);
      } else {
        char name[32];
        std::snprintf(name, sizeof name, "frame_%04lld.%s", static_cast<long long>(written), hdr ? "exr" : "png");
        write_frame((fs::path(out) / name).string(), result);
      }
    }
    chunk.clear();
  };
  for_each_frame(in, opt, [&](int64_t t, const Tensor& f, const Tensor&) {
    const int64_t mul = m.model->size_multiple(), H = f.size(1) / mul * mul, W = f.size(2) / mul * mul;
    STEADY_CHECK(H > 0 && W > 0, in, ": frames of ", f.size(2), "x", f.size(1), " are smaller than ",
                 mul, "x", mul, ", the least the ", m.model->task(), " network takes");
    Tensor frame = crop_top_left(f, H, W);
    if (hdr) {
      const float* v = frame.data<float>();
      float hi = 0;
      for (int64_t i = 0; i < frame.numel(); ++i) hi = std::max(hi, std::isfinite(v[i]) ? v[i] : 2.f);
      STEADY_CHECK(hi <= 1.0f, in, ": frame ", t, " has values up to ", hi,
                   ": the HDR model takes LDR input in [0, 1] (a PNG, JPG or video; an EXR only "
                   "when it holds display values)");
    }
    if (t == 0)
      std::fprintf(stderr, "infer: %s %lldx%lld through a %s model on %s\n", in.c_str(),
                   (long long)frame.size(2), (long long)frame.size(1), m.model->task().c_str(),
                   device_name(device));
    chunk.push_back(hdr ? frame : colorization_input(frame).to(DType::F32));
    if (static_cast<int>(chunk.size()) >= batch) flush();
  }, &info);
  flush();
  if (video) video->close();
  std::fprintf(stderr, "infer: wrote %lld frame(s) to %s\n", static_cast<long long>(written), out.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  mallopt(M_MMAP_THRESHOLD, 1 << 20);  // frames by the thousand: see eval_video's main
  return run_tool("infer", infer_main, argc, argv);
}
