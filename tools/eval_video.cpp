// eval_video: how well and how stably models reconstruct video, HDR or colorization (the task
// is read from each checkpoint; all models of one call share it).
//   ./eval_video data/test/seq_000 --model runs/base/last.safetensors --model runs/jac/last.safetensors
// SEQ is a folder of frames, a printf pattern (seq_%04d.exr), a multi-part EXR or a video file;
// several SEQ arguments give a table per sequence and their mean. For each model and for the
// input itself as a reference we report PSNR, the smoothness S of Eq. 9-10 (S > 1: smoother
// than the ground truth) and the warping error (Lai et al.) where the true motion is stored.
//   HDR: each sequence goes through the virtual camera with one exposure for all its frames
//     (drawn from --seed); PSNR over the saturated pixels and S, both in the log domain
//     (data/metrics.h). The input row reconstructs nothing: its HDR is the linearized LDR, x^2.
//   Color: each frame is turned to L, colorized, and compared with its own colors on a and b,
//     in the network's units ab/110 (PSNR with peak 2, the width of [-1, 1]). The input row is
//     the gray frame itself (a = b = 0).
#include <cmath>
#include <cstdio>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "data/camera.h"
#include "data/color.h"
#include "data/image_io.h"
#include "data/metrics.h"
#include "data/sequence.h"
#include "engine/checkpoint.h"
#include "models/hdr_autoencoder.h"
#include "tools/lib/cli.h"
#include "tools/lib/inference.h"

using namespace steady;
namespace fs = std::filesystem;

namespace {

struct Row {
  std::string name;
  double psnr = NAN, smoothness = NAN, warping_error = NAN;
};

Row score_hdr(const std::string& name, const std::vector<Tensor>& pred_hdr,
          const std::vector<Tensor>& gt_hdr, const std::vector<Tensor>& ldr,
          const std::vector<Tensor>& flow, double fps) {
  Row r{name};
  SquaredError acc;
  std::vector<Tensor> pred_log, gt_log;
  for (size_t t = 0; t < pred_hdr.size(); ++t) {
    add_hdr_saturated(acc, pred_hdr[t], gt_hdr[t], ldr[t]);
    pred_log.push_back(hdr_log(pred_hdr[t]));
    gt_log.push_back(hdr_log(gt_hdr[t]));
  }
  r.psnr = acc.psnr();
  r.smoothness = smoothness(gt_log, pred_log, fps).s;
  if (!flow.empty()) r.warping_error = warping_error(pred_log, flow).error;
  return r;
}

void print_table(const std::string& title, const std::vector<Row>& rows, const char* psnr_label) {
  std::printf("\n%s\n", title.c_str());
  std::printf("  %-40s %14s %14s %14s\n", "model", psnr_label, "smoothness S", "warp error");
  for (const Row& r : rows) {
    auto cell = [](double v) {
      char b[32];
      if (std::isnan(v)) return std::string("-");
      std::snprintf(b, sizeof b, "%.4f", v);
      return std::string(b);
    };
    std::printf("  %-40s %14s %14s %14s\n", r.name.c_str(), cell(r.psnr).c_str(),
                cell(r.smoothness).c_str(), cell(r.warping_error).c_str());
  }
}

nlohmann::json to_json(const std::vector<Row>& rows) {
  nlohmann::json a = nlohmann::json::array();
  auto num = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); };
  for (const Row& r : rows)
    a.push_back({{"model", r.name}, {"psnr_saturated_db", num(r.psnr)},
                 {"smoothness", num(r.smoothness)}, {"warping_error", num(r.warping_error)}});
  return a;
}

fs::path output_dir(const Cli& cli, const std::string& spec, const std::string& model_path) {
  fs::path dir = fs::path(cli.get("out")) / fs::path(spec).filename().replace_extension() /
                 fs::path(model_path).parent_path().filename();
  fs::create_directories(dir);
  return dir;
}

std::string frame_name(size_t t) {
  char name[32];
  std::snprintf(name, sizeof name, "frame_%04zu", t);
  return name;
}

std::vector<Row> evaluate_hdr(const Sequence& seq, const std::string& spec,
                              std::vector<LoadedModel>& models, double fps, const Cli& cli,
                              Device device, int chunk) {
  Rng rng(static_cast<uint64_t>(cli.get_int("seed")));
  CameraParams cam = sample_camera(seq.frames, rng);
  cam.noise_std = 0;
  std::vector<Tensor> ldr, gt, input_hdr;
  for (const Tensor& f : seq.frames) {
    ldr.push_back(apply_camera(f, cam));
    gt.push_back(cpu_backend().scale_shift(f, cam.exposure, 0.0));
    input_hdr.push_back(cpu_backend().binary(BinaryOp::Mul, ldr.back(), ldr.back()));
  }
  std::vector<Row> rows{score_hdr("input (LDR, linearized)", input_hdr, gt, ldr, seq.flow, fps)};
  for (LoadedModel& m : models) {
    std::vector<Tensor> pred = hdr_from_log(run_model(*m.model, ldr, device, chunk));
    rows.push_back(score_hdr(m.path, pred, gt, ldr, seq.flow, fps));
    if (cli.get("out").empty()) continue;
    fs::path dir = output_dir(cli, spec, m.path);
    for (size_t t = 0; t < pred.size(); ++t) {
      write_exr((dir / (frame_name(t) + ".exr")).string(), pred[t]);
      // Preview: the exposure's clip point at white, gamma 2.2.
      Tensor png = cpu_backend().unary(UnaryOp::Log, cpu_backend().scale_shift(pred[t], 1.0, 1e-8), 0.f);
      png = cpu_backend().unary(UnaryOp::Exp, cpu_backend().scale_shift(png, 1 / 2.2, 0.0), 0.f);
      write_png((dir / (frame_name(t) + ".png")).string(), png);
    }
  }
  return rows;
}

// The top-left h x w of img [C,H,W].
Tensor crop_top_left(const Tensor& img, int64_t h, int64_t w) {
  const int64_t C = img.size(0), H = img.size(1), W = img.size(2);
  if (h == H && w == W) return img;
  Tensor out = Tensor::empty({C, h, w}, Device::CPU, img.dtype());
  Tensor src = img.to(DType::F64);
  std::vector<double> v = src.to_host(), o(C * h * w);
  for (int64_t c = 0; c < C; ++c)
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x) o[(c * h + y) * w + x] = v[(c * H + y) * W + x];
  return Tensor::from_vector(o, {C, h, w}, Device::CPU, img.dtype());
}

Row score_color(const std::string& name, const std::vector<Tensor>& pred_ab,
                const std::vector<Tensor>& gt_ab, const std::vector<Tensor>& flow, double fps) {
  Row r{name};
  r.psnr = psnr(pred_ab, gt_ab, 2.0);
  r.smoothness = smoothness(gt_ab, pred_ab, fps).s;
  if (!flow.empty()) r.warping_error = warping_error(pred_ab, flow).error;
  return r;
}

std::vector<Row> evaluate_color(const Sequence& seq, const std::string& spec,
                                std::vector<LoadedModel>& models, double fps, const Cli& cli,
                                Device device, int chunk) {
  // The network needs sizes that are multiples of 8: evaluate the top-left crop that is.
  const int64_t H = seq.frames[0].size(1) / 8 * 8, W = seq.frames[0].size(2) / 8 * 8;
  STEADY_CHECK(H > 0 && W > 0, spec, ": frames smaller than 8x8");
  std::vector<Tensor> input, gt, gray;
  for (const Tensor& f : seq.frames) {
    ColorizationPair p = colorization_pair(crop_top_left(f, H, W));
    input.push_back(p.input.to(DType::F32));
    gt.push_back(p.target.to(DType::F32));
    gray.push_back(Tensor::zeros({2, H, W}));
  }
  std::vector<Tensor> flow;
  for (const Tensor& f : seq.flow) flow.push_back(crop_top_left(f, H, W));
  std::vector<Row> rows{score_color("input (gray, a = b = 0)", gray, gt, flow, fps)};
  for (LoadedModel& m : models) {
    std::vector<Tensor> pred = run_model(*m.model, input, device, chunk);
    rows.push_back(score_color(m.path, pred, gt, flow, fps));
    if (cli.get("out").empty()) continue;
    fs::path dir = output_dir(cli, spec, m.path);
    for (size_t t = 0; t < pred.size(); ++t)
      write_png((dir / (frame_name(t) + ".png")).string(), colorization_to_srgb(input[t], pred[t]));
  }
  return rows;
}

int eval_main(int argc, char** argv) {
  Cli cli("eval_video", "SEQ [SEQ ...] --model CKPT [--model CKPT ...] [options]\n\n"
                        "SEQ: a folder of frames, a printf pattern (seq_%04d.exr), a multi-part EXR or a video file");
  cli.option("model", "", "a checkpoint to evaluate (repeat for several, side by side)");
  cli.option("fps", "", "frames per second (default: from the sequence, else 25)");
  cli.option("device", "auto", "auto, cpu or cuda");
  cli.option("seed", "1", "seed of the virtual camera's exposure and curve");
  cli.option("batch", "8", "frames per forward pass");
  cli.option("out", "", "write predicted frames (EXR) and PNG previews under this folder");
  cli.option("max-frames", "0", "evaluate only the first N frames (0: all)");
  cli.option("max-side", "256", "video files: scale frames so the longer side is at most N (0: full size)");
  cli.flag("json", "print JSON instead of tables");
  if (!cli.parse(argc, argv)) return 0;
  STEADY_CHECK(!cli.positional().empty(), "expected at least one sequence (see --help)");
  std::vector<std::string> model_paths = cli.get_all("model");
  STEADY_CHECK(!model_paths.empty(), "expected at least one --model checkpoint");
  Device device = parse_device(cli.get("device"));
  int chunk = static_cast<int>(std::max<int64_t>(1, cli.get_int("batch")));

  std::vector<LoadedModel> models;
  for (const std::string& p : model_paths) models.push_back(load_model(p, device));
  const std::string task = models[0].model->task();
  const char* psnr_label = task == "hdr" ? "PSNR sat (dB)" : "PSNR ab (dB)";
  for (const LoadedModel& m : models)
    STEADY_CHECK(m.model->task() == task, "--model ", m.path, " is a ", m.model->task(),
                 " model but ", models[0].path, " is a ", task, " model: evaluate them apart");

  nlohmann::json report = {{"sequences", nlohmann::json::array()}};
  std::vector<std::vector<Row>> all;
  for (const std::string& spec : cli.positional()) {
    SequenceReadOptions opt;
    opt.channels = 3;
    opt.max_frames = cli.get_int("max-frames");
    opt.video_max_side = cli.get_int("max-side");
    Sequence seq = read_sequence(spec, opt);
    STEADY_CHECK(seq.frames.size() >= 2, spec, ": a video needs at least 2 frames, found ",
                 seq.frames.size());
    double fps = cli.has("fps") ? cli.get_double("fps") : (seq.fps > 0 ? seq.fps : 25.0);
    STEADY_CHECK(fps > 0, "--fps must be positive");
    std::vector<Row> rows = task == "hdr" ? evaluate_hdr(seq, spec, models, fps, cli, device, chunk)
                                          : evaluate_color(seq, spec, models, fps, cli, device, chunk);
    int64_t H = seq.frames[0].size(1), W = seq.frames[0].size(2);
    char title[512];
    std::snprintf(title, sizeof title, "%s: %zu frames, %lldx%lld, %.3g fps%s", spec.c_str(),
                  seq.frames.size(), (long long)W, (long long)H, fps,
                  seq.flow.empty() ? " (no stored motion: no warping error)" : "");
    if (!cli.has("json")) print_table(title, rows, psnr_label);
    report["sequences"].push_back({{"sequence", spec}, {"frames", seq.frames.size()},
                                   {"fps", fps}, {"rows", to_json(rows)}});
    all.push_back(rows);
  }
  if (all.size() > 1) {
    std::vector<Row> mean = all[0];
    for (size_t i = 0; i < mean.size(); ++i) {
      double p = 0, s = 0, w = 0;
      for (const auto& rows : all) p += rows[i].psnr, s += rows[i].smoothness, w += rows[i].warping_error;
      double n = static_cast<double>(all.size());
      mean[i].psnr = p / n, mean[i].smoothness = s / n, mean[i].warping_error = w / n;
    }
    if (!cli.has("json"))
      print_table("mean over " + std::to_string(all.size()) + " sequences", mean, psnr_label);
    report["mean"] = to_json(mean);
  }
  if (cli.has("json")) std::printf("%s\n", report.dump(1).c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return run_tool("eval_video", eval_main, argc, argv); }
