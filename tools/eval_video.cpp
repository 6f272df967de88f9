// eval_video: how stable a video is, and how well and how stably models reconstruct it.
//   ./eval_video seq.exr                                   the sequence measured itself
//   ./eval_video out_frames/ --ref data/test/seq_000       another method's output against a reference
//   ./eval_video data/test/seq_* --model runs/base/last.safetensors --model runs/jac/last.safetensors
//   ./eval_video ... --report report/                      + report/index.html to look at
// SEQ is a folder of frames, a printf pattern (seq_%04d.exr), a multi-part EXR or a video file.
// Frames stream through the models and the measures (tools/lib/evaluation.h has the protocol),
// so memory is bounded by the temporal filter's window whatever the length. Per sequence a
// table, over several sequences the mean and standard deviation.
#include <malloc.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>

#include <nlohmann/json.hpp>

#include "data/video.h"
#include "tools/lib/cli.h"
#include "tools/lib/evaluation.h"

using namespace steady;
namespace fs = std::filesystem;

namespace {

std::string cell(double v) {
  if (std::isnan(v)) return "-";
  char b[32];
  std::snprintf(b, sizeof b, std::abs(v) >= 1e4 || (v != 0 && std::abs(v) < 1e-3) ? "%.3e" : "%.4f", v);
  return b;
}

void print_table(const std::string& title, const std::vector<Column>& cols,
                 const std::vector<std::string>& labels,
                 const std::vector<std::vector<std::string>>& cells) {
  size_t width = 10;
  for (const std::string& l : labels) width = std::max(width, std::min<size_t>(l.size(), 48));
  std::printf("\n%s\n  %-*s", title.c_str(), static_cast<int>(width), "");
  std::vector<size_t> w;
  for (size_t j = 0; j < cols.size(); ++j) {
    size_t cw = std::string(cols[j].label).size();
    for (const auto& row : cells) cw = std::max(cw, row[j].size());
    w.push_back(cw);
    std::printf("  %*s", static_cast<int>(cw), cols[j].label);
  }
  std::printf("\n");
  for (size_t i = 0; i < labels.size(); ++i) {
    std::string l = labels[i];
    if (l.size() > width) l = "..." + l.substr(l.size() - width + 3);
    std::printf("  %-*s", static_cast<int>(width), l.c_str());
    for (size_t j = 0; j < cols.size(); ++j) std::printf("  %*s", static_cast<int>(w[j]), cells[i][j].c_str());
    std::printf("\n");
  }
}

nlohmann::json num(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

// The camera an HDR sequence was evaluated with, so that every figure can be re-derived.
std::string camera_line(const SequenceResult& r) {
  if (!r.camera) return "";
  const CameraParams& c = *r.camera;
  char b[256];
  std::snprintf(b, sizeof b,
                "camera: exposure %.4g (clip percentile %.2f), curve n %.3f a %.3f, %d bits; "
                "saturated share %.2f%% (input max channel > 0.95)",
                c.exposure, c.percentile, c.n, c.a, c.bits, 100 * r.saturated_share);
  return b;
}

std::string now_utc() {
  const std::time_t t = std::time(nullptr);
  char b[32];
  std::strftime(b, sizeof b, "%Y-%m-%d %H:%M UTC", std::gmtime(&t));
  return b;
}

// The report page from report.json: scripts/report.py (matplotlib for the plots).
void render_report(const fs::path& dir) {
  const fs::path script = fs::path(STEADY_SOURCE_DIR) / "scripts" / "report.py";
  std::error_code ec;
  if (!fs::exists(script, ec)) {
    std::fprintf(stderr, "eval_video: %s is missing: wrote %s only\n", script.c_str(),
                 (dir / "report.json").c_str());
    return;
  }
  // Debian's interpreter first: python3-matplotlib is installed for it.
  const std::string python = fs::exists("/usr/bin/python3", ec) ? "/usr/bin/python3" : "python3";
  std::string err;
  const int rc = run_program({python, script.string(), dir.string()}, &err);
  if (!err.empty()) std::fprintf(stderr, "%s", err.c_str());
  STEADY_CHECK(rc == 0, "the report page could not be made (", script.string(), " exit code ", rc, ")");
}

int eval_main(int argc, char** argv) {
  Cli cli("eval_video", "SEQ [SEQ ...] [--model CKPT ...] [--ref REF] [options]\n\n"
                        "SEQ: a folder of frames, a printf pattern (seq_%04d.exr), a multi-part EXR or a video file.\n"
                        "Without --model the sequence itself is measured (against --ref when given).");
  cli.section("what is measured");
  cli.option("model", "", "a checkpoint to evaluate (repeat for several, side by side)");
  cli.option("ref", "", "a reference sequence to compare SEQ with (no --model; one SEQ)");
  cli.option("fps", "", "frames per second (default: from the sequence, else 25)");
  cli.option("seed", "1", "seed of the virtual cameras (drawn per sequence, with its name) and the transforms");
  add_frame_run_options(cli);
  cli.section("outputs");
  cli.option("out", "", "write predicted frames (EXR for HDR, and PNG previews) under this folder");
  cli.option("report", "", "write an HTML report (tables, frames, difference images, profiles, video) into this folder");
  cli.option("profile", "", "X,Y: a pixel whose values over time the report plots (repeat; default: where the first model flickers most)");
  cli.option("profile-count", "3", "how many pixels to pick when no --profile is given");
  cli.flag("json", "print JSON instead of tables");
  cli.section("diagnostics");
  cli.option("excess-gain", "1", "HDR diagnostics: scale each model's log output's excess over the input by K");
  cli.option("equiv-every", "8", "measure the transform-equivariance error on every Nth frame (0: off)");
  cli.option("transf-scale", "1", "scale of Table 1's transform ranges for the equivariance error");
  if (!cli.parse(argc, argv)) return 0;
  STEADY_CHECK(!cli.positional().empty(), "expected at least one sequence (see --help)");

  EvalOptions opt;
  const FrameRunOptions run = frame_run_options(cli);
  opt.device = run.device;
  opt.batch = run.batch;
  opt.max_frames = run.max_frames;
  opt.max_side = run.max_side;
  opt.fps = cli.has("fps") ? cli.get_double("fps") : 0;
  STEADY_CHECK(!cli.has("fps") || (std::isfinite(opt.fps) && opt.fps > 0), "--fps must be positive");
  opt.seed = static_cast<uint64_t>(cli.get_int("seed", 0, INT64_MAX));
  opt.ref = cli.get("ref");
  opt.excess_gain = cli.get_double("excess-gain");
  STEADY_CHECK(std::isfinite(opt.excess_gain) && opt.excess_gain >= 0, "--excess-gain must be >= 0");
  opt.equivariance_every = cli.get_int("equiv-every", 0, INT64_MAX);
  STEADY_CHECK(opt.equivariance_every >= 0, "--equiv-every must be >= 0");
  opt.transform_scale = cli.get_double("transf-scale");
  STEADY_CHECK(std::isfinite(opt.transform_scale) && opt.transform_scale > 0 && opt.transform_scale <= 10,
               "--transf-scale must be in (0, 10]");
  opt.out_dir = cli.get("out");
  opt.report_dir = cli.get("report");
  opt.profile_count = static_cast<int>(cli.get_int("profile-count", 1, 16));
  STEADY_CHECK(opt.profile_count >= 1 && opt.profile_count <= 16, "--profile-count must be in [1, 16]");
  for (const std::string& p : cli.get_all("profile")) {
    long long x = -1, y = -1;
    char tail = 0;
    STEADY_CHECK(std::sscanf(p.c_str(), "%lld,%lld%c", &x, &y, &tail) == 2 && x >= 0 && y >= 0,
                 "--profile expects X,Y (pixel coordinates), got '", p, "'");
    opt.profile_at.push_back({x, y});
  }

  std::vector<LoadedModel> models;
  for (const std::string& p : cli.get_all("model")) models.push_back(load_model(p, opt.device));
  for (const LoadedModel& m : models)
    STEADY_CHECK(m.model->task() == models[0].model->task(), "--model ", m.path, " is a ",
                 m.model->task(), " model but ", models[0].path, " is a ",
                 models[0].model->task(), " model: evaluate them apart");
  STEADY_CHECK(opt.ref.empty() || (models.empty() && cli.positional().size() == 1),
               "--ref compares one sequence with a reference: give one SEQ and no --model");
  if (!opt.report_dir.empty() || !opt.out_dir.empty()) {
    // Files are named by sequence (and, under --out, by the model's folder and file): names
    // that collide would overwrite each other.
    std::map<std::string, std::string> seen;
    for (const std::string& spec : cli.positional()) {
      const auto [it, fresh] = seen.emplace(sequence_name(spec), spec);
      STEADY_CHECK(fresh, "sequences ", it->second, " and ", spec, " are both named '", it->first,
                   "': their files would collide under --out/--report; evaluate them apart");
    }
    seen.clear();
    for (const LoadedModel& m : models) {
      const auto [it, fresh] = seen.emplace(model_output_name(m.path), m.path);
      STEADY_CHECK(fresh, "models ", it->second, " and ", m.path, " would write to the same folder '",
                   it->first, "' under --out");
    }
  }
  if (!opt.report_dir.empty()) fs::create_directories(opt.report_dir);

  std::vector<SequenceResult> results;
  const bool json = cli.has("json");
  for (const std::string& spec : cli.positional()) {
    const auto start = std::chrono::steady_clock::now();
    results.push_back(evaluate_sequence(spec, models, opt));
    const SequenceResult& r = results.back();
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (json) continue;
    const std::string cam = camera_line(r);
    if (cli.positional().size() > 4) {
      std::fprintf(stderr, "eval_video: %zu/%zu %s (%lld frames, %.1f s)%s%s\n", results.size(),
                   cli.positional().size(), spec.c_str(), static_cast<long long>(r.frames), secs,
                   cam.empty() ? "" : "; ", cam.c_str());
      continue;
    }
    char title[512];
    std::snprintf(title, sizeof title, "%s: %lld frames, %lldx%lld, %.3g fps%s (%.1f s)", spec.c_str(),
                  static_cast<long long>(r.frames), static_cast<long long>(r.width),
                  static_cast<long long>(r.height), r.fps,
                  r.has_motion ? "" : ", no stored motion (no warping error)", secs);
    const std::vector<Column> cols = eval_columns(r);
    std::vector<std::string> labels;
    std::vector<std::vector<std::string>> cells;
    for (const EvalRow& row : r.rows) {
      labels.push_back(row.label);
      cells.emplace_back();
      for (const Column& c : cols) cells.back().push_back(cell(row.value(c.key)));
    }
    print_table(cam.empty() ? title : std::string(title) + "\n" + cam, cols, labels, cells);
  }

  // Mean and standard deviation (over sequences) of every value.
  const SequenceResult& first = results[0];
  const std::vector<Column> cols = eval_columns(first);
  nlohmann::json mean_rows = nlohmann::json::array();
  std::vector<std::string> labels;
  std::vector<std::vector<std::string>> cells;
  for (size_t i = 0; i < first.rows.size(); ++i) {
    nlohmann::json values;
    for (const auto& [key, unused] : first.rows[i].values) {
      double s = 0, s2 = 0;
      int n = 0;
      for (const SequenceResult& r : results) {
        if (i >= r.rows.size()) continue;
        const double v = r.rows[i].value(key);
        if (std::isfinite(v)) s += v, s2 += v * v, ++n;
      }
      const double m = n > 0 ? s / n : NAN;
      const double sd = n > 1 ? std::sqrt(std::max(0.0, (s2 - n * m * m) / (n - 1))) : NAN;
      values[key] = {{"mean", num(m)}, {"std", num(sd)}, {"n", n}};
    }
    mean_rows.push_back({{"name", first.rows[i].name}, {"label", first.rows[i].label}, {"values", values}});
    labels.push_back(first.rows[i].label);
    cells.emplace_back();
    for (const Column& c : cols) {
      const nlohmann::json v = values.value(c.key, nlohmann::json{{"mean", nullptr}, {"std", nullptr}});
      std::string text = v["mean"].is_null() ? "-" : cell(v["mean"].get<double>());
      if (!v["std"].is_null()) text += " +- " + cell(v["std"].get<double>());
      cells.back().push_back(text);
    }
  }
  if (results.size() > 1 && !json)
    print_table("mean +- standard deviation over " + std::to_string(results.size()) + " sequences",
                cols, labels, cells);

  nlohmann::json out = {{"sequences", nlohmann::json::array()}};
  for (const SequenceResult& r : results) {
    nlohmann::json rows = nlohmann::json::array();
    for (const EvalRow& row : r.rows) {
      nlohmann::json values;
      for (const auto& [k, v] : row.values) values[k] = num(v);
      rows.push_back({{"name", row.name}, {"label", row.label}, {"model", row.label}, {"values", values}});
    }
    nlohmann::json s = {{"name", r.name}, {"sequence", r.source}, {"source", r.source},
                        {"frames", r.frames}, {"width", r.width}, {"height", r.height},
                        {"fps", r.fps}, {"task", r.task}, {"rows", rows}};
    if (r.camera) {
      const CameraParams& c = *r.camera;
      s["camera"] = {{"exposure", c.exposure}, {"clip_percentile", c.percentile},
                     {"curve_n", c.n}, {"curve_a", c.a}, {"bits", c.bits}, {"noise_std", c.noise_std}};
      s["saturated_share"] = num(r.saturated_share);
    }
    for (const auto& [k, v] : r.report.items()) s[k] = v;
    out["sequences"].push_back(s);
  }
  if (results.size() > 1) out["mean"] = {{"sequences", results.size()}, {"rows", mean_rows}};
  if (json) std::printf("%s\n", out.dump(1).c_str());

  if (!opt.report_dir.empty()) {
    nlohmann::json columns = nlohmann::json::array();
    for (const Column& c : cols) columns.push_back({{"key", c.key}, {"label", c.label}});
    std::string command;
    for (int i = 0; i < argc; ++i) command += (i ? " " : "") + std::string(argv[i]);
    out["title"] = "eval_video: " + std::to_string(results.size()) + " sequence(s), " +
                   std::to_string(models.size()) + " model(s)";
    out["task"] = first.task;
    out["command"] = command;
    out["date"] = now_utc();
    out["columns"] = columns;
    out["protocol"] = {
        "S = sqrt(D(reference) / D(row)) (Eq. 9-10), D the energy left by a temporal Gaussian high-pass "
        "(sigma 0.15 s); S > 1: smoother than the reference.",
        "HDR: values in the log domain log(max(v, 0) + 1/255). 'sat' = pixels the LDR input saturates "
        "(max channel > 0.95) in that frame; 'sat-union' = the same, widened to the union over the "
        "Gaussian's support (+-3 sigma frames); 'gt-over' = pixels whose ground truth is above the "
        "camera's clip point. PSNR over 'sat', pooled over frames; 'PSNR sat display' the same pixels "
        "in the report's view (-3 stops, gamma 2.2, clamped to [0, 1]), peak 1.",
        "Colorization: a and b of CIE Lab in the network's units ab/110, PSNR with peak 2.",
        "HF rms = sqrt(D / counted elements); flicker = mean |v_t - v_{t-1}|; warp error: Lai et al., "
        "with the stored true motion; equiv error = ||f(T x) - T f(x)||^2 on every Nth held-out frame "
        "(Table 1 transforms), what the trans-inv regularizer minimizes.",
        "The virtual camera is drawn once per sequence from --seed and the sequence's name and applied "
        "once: the input is camera(e * scene), the reference e * scene (each sequence's 'camera' "
        "entry names e, the clip percentile and the curve)."};
    const fs::path manifest = fs::path(opt.report_dir) / "report.json";
    {
      std::ofstream f(manifest);
      f << out.dump(1) << "\n";
      STEADY_CHECK(f.good(), "cannot write ", manifest.string());
    }
    render_report(opt.report_dir);
    if (!json) std::printf("\nreport: %s\n", (fs::path(opt.report_dir) / "index.html").c_str());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Frames come and go by the thousand: blocks this large go straight to mmap and back to the
  // system when freed, so the heap does not fragment and peak memory stays flat with length
  // (glibc otherwise raises its mmap threshold after the first free and keeps them).
  mallopt(M_MMAP_THRESHOLD, 1 << 20);
  return run_tool("eval_video", eval_main, argc, argv);
}
