// eval_video: how well and how stably models reconstruct HDR video.
//   ./eval_video data/test/seq_000 --model runs/base/last.safetensors --model runs/jac/last.safetensors
// SEQ is a folder of frames, a printf pattern (seq_%04d.exr) or a multi-part EXR; several SEQ
// arguments give a table per sequence and their mean. Each sequence goes through the virtual
// camera with one exposure for all its frames (drawn from --seed), each model reconstructs it
// frame by frame, and we report, for the LDR input itself as a reference and for each model:
//   PSNR over the saturated pixels in the log domain (data/metrics.h),
//   the smoothness S of Eq. 9-10 in the log domain (S > 1: smoother than the ground truth),
//   the warping error (Lai et al.) where the true motion is stored with the sequence.
// The input row reconstructs nothing: its HDR is the linearized LDR, x^2.
#include <cmath>
#include <cstdio>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "data/camera.h"
#include "data/image_io.h"
#include "data/metrics.h"
#include "data/sequence.h"
#include "engine/checkpoint.h"
#include "models/hdr_autoencoder.h"
#include "tools/lib/cli.h"

using namespace steady;
namespace fs = std::filesystem;

namespace {

struct Row {
  std::string name;
  double psnr = NAN, smoothness = NAN, warping_error = NAN;
};

struct LoadedModel {
  std::string path;
  std::unique_ptr<Model> model;
};

LoadedModel load_model(const std::string& path, Device device) {
  CheckpointMeta meta = read_checkpoint_meta(path);
  std::string task;
  try {
    task = nlohmann::json::parse(meta.config).value("task", "");
  } catch (const std::exception&) {
  }
  STEADY_CHECK(task == "hdr", path, " is not an HDR model (its task is '", task,
               "'); eval_video evaluates HDR models here");
  LoadedModel m{path, make_model(task)};
  Rng rng(0);
  m.model->finalize(device, rng);
  load_checkpoint(path, m.model->params(), nullptr);
  return m;
}

// Runs model over ldr frames in chunks; returns linear HDR frames [3,H,W] on the CPU.
std::vector<Tensor> reconstruct(Model& model, const std::vector<Tensor>& ldr, Device device,
                                int chunk) {
  NoGradGuard no_grad;
  std::vector<Tensor> out;
  int64_t H = ldr[0].size(1), W = ldr[0].size(2), plane = 3 * H * W;
  for (size_t begin = 0; begin < ldr.size(); begin += chunk) {
    size_t n = std::min(ldr.size() - begin, static_cast<size_t>(chunk));
    std::vector<float> x(n * plane);
    for (size_t i = 0; i < n; ++i) std::copy_n(ldr[begin + i].data<float>(), plane, x.data() + i * plane);
    Tensor y = model.forward(Var(Tensor::from_vector(x, {int64_t(n), 3, H, W}, device)), false)
                   .value().to(Device::CPU);
    for (size_t i = 0; i < n; ++i) {
      Tensor f = Tensor::empty({3, H, W});
      const float* s = y.data<float>() + i * plane;
      float* d = f.data<float>();
      for (int64_t k = 0; k < plane; ++k) d[k] = std::exp(s[k]) - static_cast<float>(kHdrLogEps);
      out.push_back(f);
    }
  }
  return out;
}

Row score(const std::string& name, const std::vector<Tensor>& pred_hdr,
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

void print_table(const std::string& title, const std::vector<Row>& rows) {
  std::printf("\n%s\n", title.c_str());
  std::printf("  %-40s %14s %14s %14s\n", "model", "PSNR sat (dB)", "smoothness S", "warp error");
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

int eval_main(int argc, char** argv) {
  Cli cli("eval_video", "SEQ [SEQ ...] --model CKPT [--model CKPT ...] [options]\n\n"
                        "SEQ: a folder of HDR frames, a printf pattern (seq_%04d.exr) or a multi-part EXR");
  cli.option("model", "", "a checkpoint to evaluate (repeat for several, side by side)");
  cli.option("fps", "", "frames per second (default: from the sequence, else 25)");
  cli.option("device", "auto", "auto, cpu or cuda");
  cli.option("seed", "1", "seed of the virtual camera's exposure and curve");
  cli.option("batch", "8", "frames per forward pass");
  cli.option("out", "", "write predicted frames (EXR) and PNG previews under this folder");
  cli.flag("json", "print JSON instead of tables");
  if (!cli.parse(argc, argv)) return 0;
  STEADY_CHECK(!cli.positional().empty(), "expected at least one sequence (see --help)");
  std::vector<std::string> model_paths = cli.get_all("model");
  STEADY_CHECK(!model_paths.empty(), "expected at least one --model checkpoint");
  Device device = parse_device(cli.get("device"));
  int chunk = static_cast<int>(std::max<int64_t>(1, cli.get_int("batch")));

  std::vector<LoadedModel> models;
  for (const std::string& p : model_paths) models.push_back(load_model(p, device));

  nlohmann::json report = {{"sequences", nlohmann::json::array()}};
  std::vector<std::vector<Row>> all;
  for (const std::string& spec : cli.positional()) {
    SequenceReadOptions opt;
    opt.channels = 3;
    Sequence seq = read_sequence(spec, opt);
    STEADY_CHECK(seq.frames.size() >= 2, spec, ": a video needs at least 2 frames, found ",
                 seq.frames.size());
    double fps = cli.has("fps") ? cli.get_double("fps") : (seq.fps > 0 ? seq.fps : 25.0);
    STEADY_CHECK(fps > 0, "--fps must be positive");
    Rng rng(static_cast<uint64_t>(cli.get_int("seed")));
    CameraParams cam = sample_camera(seq.frames, rng);
    cam.noise_std = 0;
    std::vector<Tensor> ldr, gt, input_hdr;
    for (const Tensor& f : seq.frames) {
      ldr.push_back(apply_camera(f, cam));
      gt.push_back(cpu_backend().scale_shift(f, cam.exposure, 0.0));
      input_hdr.push_back(cpu_backend().binary(BinaryOp::Mul, ldr.back(), ldr.back()));
    }
    std::vector<Row> rows{score("input (LDR, linearized)", input_hdr, gt, ldr, seq.flow, fps)};
    for (LoadedModel& m : models) {
      std::vector<Tensor> pred = reconstruct(*m.model, ldr, device, chunk);
      rows.push_back(score(m.path, pred, gt, ldr, seq.flow, fps));
      if (!cli.get("out").empty()) {
        fs::path dir = fs::path(cli.get("out")) / fs::path(spec).filename().replace_extension() /
                       fs::path(m.path).parent_path().filename();
        fs::create_directories(dir);
        for (size_t t = 0; t < pred.size(); ++t) {
          char name[32];
          std::snprintf(name, sizeof name, "frame_%04zu", t);
          write_exr((dir / (std::string(name) + ".exr")).string(), pred[t]);
          // Preview: the exposure's clip point at white, gamma 2.2.
          Tensor png = cpu_backend().unary(UnaryOp::Log, cpu_backend().scale_shift(pred[t], 1.0, 1e-8), 0.f);
          png = cpu_backend().unary(UnaryOp::Exp, cpu_backend().scale_shift(png, 1 / 2.2, 0.0), 0.f);
          write_png((dir / (std::string(name) + ".png")).string(), png);
        }
      }
    }
    int64_t H = seq.frames[0].size(1), W = seq.frames[0].size(2);
    char title[512];
    std::snprintf(title, sizeof title, "%s: %zu frames, %lldx%lld, %.3g fps%s", spec.c_str(),
                  seq.frames.size(), (long long)W, (long long)H, fps,
                  seq.flow.empty() ? " (no stored motion: no warping error)" : "");
    if (!cli.has("json")) print_table(title, rows);
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
    if (!cli.has("json")) print_table("mean over " + std::to_string(all.size()) + " sequences", mean);
    report["mean"] = to_json(mean);
  }
  if (cli.has("json")) std::printf("%s\n", report.dump(1).c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return run_tool("eval_video", eval_main, argc, argv); }
