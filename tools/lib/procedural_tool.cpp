#include "tools/lib/procedural_tool.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "data/image_io.h"
#include "data/procedural.h"
#include "tools/lib/cli.h"

namespace steady {
namespace fs = std::filesystem;

namespace {

constexpr int kTrainPreviews = 16;
const char* kFlowConvention =
    "flow EXR channels R,G,B = dx, dy, valid: pixel (x, y) of frame t shows what frame t-1 showed "
    "at (x + dx, y + dy) (backward flow, pixels); valid = 1 where a single surface explains the "
    "pixel in both frames (not occluded, disoccluded, a soft edge or outside); frame 0 has no "
    "motion (all 0)";

void make_dirs(const fs::path& p) {
  std::error_code ec;
  fs::create_directories(p, ec);
  if (ec || !fs::is_directory(p)) fail("cannot create folder '", p.string(), "': ", ec.message());
}

void write_json(const fs::path& p, const nlohmann::json& j) {
  std::ofstream out(p);
  out << j.dump(2) << "\n";
  if (!out) fail("cannot write '", p.string(), "'");
}

std::string numbered(const char* fmt, int64_t i) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), fmt, static_cast<long long>(i));
  return buf;
}

// Reads a share given as 0.05 or 5%.
double parse_share(const std::string& flag, const std::string& s) {
  std::string v = s;
  double scale = 1.0;
  if (!v.empty() && v.back() == '%') v.pop_back(), scale = 0.01;
  try {
    size_t used = 0;
    double x = std::stod(v, &used);
    if (used == v.size()) return x * scale;
  } catch (const std::exception&) {
  }
  fail("--", flag, " must be a share like 0.05 or 5%, got '", s, "'");
}

// HDR at exposure e, clipped and gamma-encoded for a screen: [3,h,w] into the panel at (ox, oy).
void paste_view(Tensor& panel, const Tensor& hdr, double e, int64_t ox, int64_t oy) {
  const int64_t ph = panel.size(1), pw = panel.size(2), h = hdr.size(1), w = hdr.size(2);
  const float* s = hdr.data<float>();
  float* o = panel.data<float>();
  for (int64_t c = 0; c < 3; ++c)
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x) {
        const double v = std::clamp(s[(c * h + y) * w + x] * e, 0.0, 1.0);
        o[(c * ph + oy + y) * pw + ox + x] = static_cast<float>(std::pow(v, 1.0 / 2.2));
      }
}

// The motion as colour: red/green the displacement (grey = none), black where not valid.
void paste_flow(Tensor& panel, const Tensor& flow, int64_t ox, int64_t oy) {
  const int64_t ph = panel.size(1), pw = panel.size(2), h = flow.size(1), w = flow.size(2);
  const float* f = flow.data<float>();
  float* o = panel.data<float>();
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x) {
      const int64_t k = y * w + x;
      const bool valid = f[2 * h * w + k] > 0.5f;
      const float r = valid ? std::clamp(0.5f + 0.25f * f[k], 0.f, 1.f) : 0.f;
      const float g = valid ? std::clamp(0.5f + 0.25f * f[h * w + k], 0.f, 1.f) : 0.f;
      const float b = valid ? 0.5f : 0.f;
      o[(0 * ph + oy + y) * pw + ox + x] = r;
      o[(1 * ph + oy + y) * pw + ox + x] = g;
      o[(2 * ph + oy + y) * pw + ox + x] = b;
    }
}

// Training preview: the image at exposure 1 (what the camera clips), 1/8 and 1/64 (the detail
// inside the highlights), side by side.
void write_train_preview(const fs::path& p, const Tensor& img) {
  const int64_t n = img.size(1), gap = 2;
  Tensor panel = Tensor::full({3, n, 3 * n + 2 * gap}, 1.0);
  for (int i = 0; i < 3; ++i) paste_view(panel, img, std::pow(8.0, -i), i * (n + gap), 0);
  write_png(p.string(), panel);
}

// Sequence preview: four moments (columns); rows: exposure 1, exposure 1/16, motion.
void write_sequence_preview(const fs::path& p, const ProceduralSequence& seq) {
  const int64_t n = seq.frames[0].size(1), gap = 2, t_n = static_cast<int64_t>(seq.frames.size());
  Tensor panel = Tensor::full({3, 3 * n + 2 * gap, 4 * n + 3 * gap}, 1.0);
  for (int64_t col = 0; col < 4; ++col) {
    const int64_t t = std::max<int64_t>(1, col * (t_n - 1) / 3);
    paste_view(panel, seq.frames[t], 1.0, col * (n + gap), 0);
    paste_view(panel, seq.frames[t], 1.0 / 16, col * (n + gap), n + gap);
    paste_flow(panel, seq.flow[t], col * (n + gap), 2 * (n + gap));
  }
  write_png(p.string(), panel);
}

class Progress {
 public:
  Progress(std::string what, int64_t total, bool quiet)
      : what_(std::move(what)), total_(total), quiet_(quiet), tty_(isatty(fileno(stdout)) != 0),
        start_(std::chrono::steady_clock::now()), last_(start_) {}

  void step() {
    ++done_;
    if (quiet_) return;
    const auto now = std::chrono::steady_clock::now();
    const double since = std::chrono::duration<double>(now - last_).count();
    const bool last = done_ == total_;
    // On a terminal redraw a few times a second; in a log print every 10% or so.
    if (!last && (tty_ ? since < 0.2 : done_ % std::max<int64_t>(1, total_ / 10) != 0)) return;
    last_ = now;
    const double elapsed = std::chrono::duration<double>(now - start_).count();
    const double rate = elapsed > 0 ? done_ / elapsed : 0;
    const double eta = rate > 0 ? (total_ - done_) / rate : 0;
    std::printf("%s%s %lld/%lld (%3.0f%%)  %.1f/s  ETA %.0fs%s", tty_ ? "\r" : "", what_.c_str(),
                static_cast<long long>(done_), static_cast<long long>(total_),
                100.0 * done_ / total_, rate, eta, tty_ && !last ? "   " : "\n");
    std::fflush(stdout);
  }

 private:
  std::string what_;
  int64_t total_, done_ = 0;
  bool quiet_, tty_;
  std::chrono::steady_clock::time_point start_, last_;
};

int run(int argc, char** argv) {
  Cli cli("gen_procedural",
          "OUT [options]\n\nWrites procedural HDR training images (OUT/train/NNNNN.exr) and test\n"
          "sequences with their true motion (OUT/test/seq_NNN/), reproducible from --seed.\n"
          "With --pan IMAGE.exr the test sequences pan a window across a real HDR image.");
  cli.section("what is written");
  cli.option("train", "1000", "number of static training images");
  cli.option("test-seqs", "10", "number of moving test sequences");
  cli.option("frames", "200", "frames per test sequence");
  cli.option("size", "128", "image width and height in pixels");
  cli.option("seed", "1", "random seed: the same seed gives the same bytes");
  cli.section("content");
  cli.option("sat-min", "0.01", "least share of saturated pixels (max channel >= 1), e.g. 0.01 or 1%");
  cli.option("sat-max", "0.10", "largest share of saturated pixels");
  cli.option("beams", "0.7", "probability that a test sequence has occluding beams");
  cli.option("motion-scale", "0.25", "speed of the test sequences' motion (1: the first generator's, 4x faster)");
  cli.option("pan", "", "IMAGE.exr: test sequences that pan a --size window across this real "
                        "HDR image (--test-seqs defaults to 1)");
  cli.section("files");
  cli.option("fps", "25", "frame rate stored in the test sequences");
  cli.flag("half", "write images as half-float EXR (default: 32-bit float); motion is always half");
  cli.flag("multipart", "write each test sequence as one multi-part EXR OUT/test/seq_NNN.exr");
  cli.flag("previews", "also write tone-mapped PNG previews to OUT/previews/");
  cli.flag("quiet", "no progress output");
  if (!cli.parse(argc, argv)) return 0;

  STEADY_CHECK(cli.positional().size() == 1, "expected one output folder, got ",
               cli.positional().size(), " arguments (see --help)");
  const fs::path out = cli.positional()[0];
  const std::string pan_path = cli.get("pan");
  const bool pan = cli.has("pan");
  STEADY_CHECK(!pan || !pan_path.empty(), "--pan needs an HDR image file (.exr or .hdr)");
  STEADY_CHECK(!pan || !cli.has("train"), "--train does not apply with --pan (it makes test "
               "sequences only)");
  STEADY_CHECK(!pan || !cli.has("beams"), "--beams does not apply with --pan");
  const int64_t n_train = pan ? 0 : cli.get_int("train", 0, 100000000);
  const int64_t n_seqs = pan && !cli.has("test-seqs") ? 1 : cli.get_int("test-seqs", 0, 1000000);
  const int64_t n_frames = cli.get_int("frames", 0, 100000), size = cli.get_int("size", 16, 16384);
  const int64_t seed_arg = cli.get_int("seed", 0, INT64_MAX);
  const double fps = cli.get_double("fps");
  const bool quiet = cli.has("quiet"), previews = cli.has("previews");
  const bool multipart = cli.has("multipart");
  STEADY_CHECK(n_train >= 0 && n_seqs >= 0, "--train and --test-seqs must be >= 0");
  STEADY_CHECK(n_train + n_seqs > 0, "nothing to generate (--train 0 --test-seqs 0)");
  STEADY_CHECK(n_seqs == 0 || (n_frames >= 2 && n_frames <= 100000),
               "--frames must be in [2, 100000], got ", n_frames);
  STEADY_CHECK(size >= 8 && size <= 8192, "--size must be in [8, 8192], got ", size);
  STEADY_CHECK(seed_arg >= 0, "--seed must be >= 0, got ", seed_arg);
  STEADY_CHECK(fps > 0 && fps <= 1000, "--fps must be in (0, 1000], got ", fps);
  const uint64_t seed = static_cast<uint64_t>(seed_arg);

  ProceduralOptions opt;
  opt.size = static_cast<int>(size);
  opt.sat_min = parse_share("sat-min", cli.get("sat-min"));
  opt.sat_max = parse_share("sat-max", cli.get("sat-max"));
  opt.beam_probability = cli.get_double("beams");
  opt.motion_scale = cli.get_double("motion-scale");
  check_procedural_options(opt);
  ExrWriteOptions image_exr;
  image_exr.precision = cli.has("half") ? ExrPrecision::Half : ExrPrecision::Float;
  ExrWriteOptions seq_exr = image_exr;
  seq_exr.fps = fps;
  // Half floats keep displacements of a few pixels to within 0.001 px (and valid exactly), at
  // half the size: motion is most of a test set's bytes.
  ExrWriteOptions flow_exr;
  flow_exr.precision = ExrPrecision::Half;
  flow_exr.fps = fps;

  // The image to pan, read (and checked) before anything is written.
  Tensor pan_image;
  if (pan) {
    pan_image = read_image(pan_path, 3);
    STEADY_CHECK(pan_image.size(2) >= size + 2 && pan_image.size(1) >= size + 2, "--pan '", pan_path,
                 "' is ", pan_image.size(2), "x", pan_image.size(1), ": --size ", size,
                 " needs an image at least ", size + 2, "x", size + 2);
  }

  make_dirs(out);
  if (previews) make_dirs(out / "previews");

  // ---- training images: independent of each other, so in parallel; same bytes either way.
  if (n_train > 0) {
    make_dirs(out / "train");
    Progress progress("train", n_train, quiet);
    std::string error;
#pragma omp parallel for schedule(dynamic)
    for (int64_t i = 0; i < n_train; ++i) {
      try {
        const Tensor img = procedural_image(seed, i, opt);
        write_exr((out / "train" / numbered("%05lld.exr", i)).string(), img, image_exr);
        if (previews && i < kTrainPreviews)
          write_train_preview(out / "previews" / numbered("train_%05lld.png", i), img);
      } catch (const std::exception& e) {
#pragma omp critical(gen_error)
        if (error.empty()) error = e.what();
      }
#pragma omp critical(gen_progress)
      progress.step();
    }
    if (!error.empty()) fail(error);
  }

  // ---- test sequences: each renders its frames in parallel.
  if (n_seqs > 0) {
    make_dirs(out / "test");
    Progress progress("test sequences", n_seqs, quiet);
    for (int64_t s = 0; s < n_seqs; ++s) {
      const ProceduralSequence seq =
          pan ? pan_sequence(pan_image, seed, s, static_cast<int>(n_frames), opt)
              : procedural_sequence(seed, s, static_cast<int>(n_frames), opt);
      const std::string name = numbered("seq_%03lld", s);
      nlohmann::json info = {{"frames", n_frames},
                             {"fps", fps},
                             {"size", size},
                             {"target_saturated_share", seq.target_share},
                             {"saturated_share", seq.saturated_share},
                             {"exposure_scale", seq.scale},
                             {"flow_convention", kFlowConvention}};
      if (pan) {
        info["pan_image"] = pan_path;
        info["pan_image_size"] = {pan_image.size(2), pan_image.size(1)};
        info["window_x"] = seq.window_x;
        info["window_y"] = seq.window_y;
        info["window_convention"] =
            "frame pixel (x, y) is the source image at (window_x[t] + x, window_y[t] + y) in pixel "
            "indices, bilinearly sampled, times exposure_scale";
      } else {
        info["beams"] = seq.beams;
      }
      if (multipart) {
        write_exr_multipart((out / "test" / (name + ".exr")).string(), seq.frames, seq_exr);
        write_exr_multipart((out / "test" / (name + ".flow.exr")).string(), seq.flow, flow_exr);
        info["frames_file"] = name + ".exr";
        info["flow_file"] = name + ".flow.exr";
        write_json(out / "test" / (name + ".json"), info);
      } else {
        const fs::path dir = out / "test" / name;
        make_dirs(dir / "flow");
        for (int64_t t = 0; t < n_frames; ++t) {
          write_exr((dir / numbered("frame_%04lld.exr", t)).string(), seq.frames[t], seq_exr);
          write_exr((dir / "flow" / numbered("flow_%04lld.exr", t)).string(), seq.flow[t], flow_exr);
        }
        info["frames_pattern"] = "frame_%04d.exr";
        info["flow_pattern"] = "flow/flow_%04d.exr";
        write_json(dir / "sequence.json", info);
      }
      if (previews) write_sequence_preview(out / "previews" / (name + ".png"), seq);
      progress.step();
    }
  }

  nlohmann::json info = {
      {"generator", pan ? "gen_procedural --pan" : "gen_procedural"},
      {"seed", seed},
      {"size", size},
      {"train", n_train},
      {"test_seqs", n_seqs},
      {"frames", n_seqs > 0 ? n_frames : 0},
      {"fps", fps},
      {"sat_min", opt.sat_min},
      {"sat_max", opt.sat_max},
      {"beam_probability", pan ? nlohmann::json(nullptr) : nlohmann::json(opt.beam_probability)},
      {"precision", image_exr.precision == ExrPrecision::Half ? "half" : "float"},
      {"multipart", multipart},
      {"exposure", "scaled so that the share of pixels with max channel >= 1 lies in "
                   "[sat_min, sat_max]: exposure 1 puts the camera's clip point at 1"},
      {"flow_convention", kFlowConvention}};
  if (pan) info["pan_image"] = pan_path;
  write_json(out / "info.json", info);
  if (!quiet) std::printf("wrote %s\n", out.string().c_str());
  return 0;
}

}  // namespace

int gen_procedural_main(int argc, char** argv) { return run_tool("gen_procedural", run, argc, argv); }

}  // namespace steady
