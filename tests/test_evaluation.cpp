// The streamed measures and the evaluation protocol on sequences whose answers are known by
// hand: constant, linear ramp, white noise of known variance, an exact translation, a prediction
// equal to the reference, a static scene, a constant gain; and the per-sequence camera draw.
#include <doctest/doctest.h>

#include <cmath>
#include <algorithm>
#include <filesystem>

#include "data/camera.h"
#include "data/image_io.h"
#include "data/metrics.h"
#include "engine/rng.h"
#include "temp_dir.h"
#include "models/hdr_autoencoder.h"
#include "tools/lib/evaluation.h"
#include "tools/lib/hdr_task.h"

using namespace steady;
using steady::test::TempDir;
namespace fs = std::filesystem;

namespace {

Tensor frame_of(const std::vector<double>& v, int64_t c, int64_t h, int64_t w) {
  return Tensor::from_vector(v, {c, h, w}, Device::CPU, DType::F64);
}

Tensor random_frame(Rng& rng, int64_t c, int64_t h, int64_t w, double sigma = 1.0) {
  std::vector<double> v(static_cast<size_t>(c * h * w));
  for (double& x : v) x = sigma * rng.normal();
  return frame_of(v, c, h, w);
}

// A random binary mask [1,H,W] with about half the pixels on.
Tensor random_mask(Rng& rng, int64_t h, int64_t w) {
  std::vector<float> v(static_cast<size_t>(h * w));
  for (float& x : v) x = rng.uniform() < 0.5 ? 1.f : 0.f;
  return Tensor::from_vector(v, {1, h, w});
}

// Scores a sequence and its reference with the same masks per frame.
struct Pair {
  std::vector<Tensor> masks;
  StreamScore pred, ref;
  explicit Pair(double fps)
      : pred(fps, [this](int64_t t) { return std::vector<Tensor>{masks.at(t)}; }),
        ref(fps, [this](int64_t t) { return std::vector<Tensor>{masks.at(t)}; }) {}
  double s(size_t j) const { return std::sqrt(ref.energy[j] / pred.energy[j]); }
};

}  // namespace

TEST_CASE("evaluation: a constant sequence has no temporal energy and no flicker") {
  StreamScore s(25, nullptr);
  for (int t = 0; t < 30; ++t) s.push(Tensor::full({3, 4, 5}, 0.7, Device::CPU, DType::F64));
  s.finish();
  CHECK(s.energy[0] == 0.0);
  CHECK(s.flicker() == 0.0);
  CHECK(s.rms_highpass(0) == 0.0);
}

TEST_CASE("evaluation: a linear ramp has flicker |slope| and no high-pass residual inside") {
  const double fps = 25, slope = 0.03;
  const int T = 60;
  std::vector<double> residual_energy(T, 0.0);
  TemporalHighpass hp(fps, [&](int64_t t, const std::vector<double>& r) {
    for (double d : r) residual_energy[t] += d * d;
  });
  StreamScore s(fps, nullptr);
  for (int t = 0; t < T; ++t) {
    const Tensor f = Tensor::full({1, 3, 3}, 0.2 + slope * t, Device::CPU, DType::F64);
    hp.push(f);
    s.push(f);
  }
  hp.finish();
  s.finish();
  CHECK(s.flicker() == doctest::Approx(slope).epsilon(1e-12));
  const int R = hp.radius();
  CHECK(R == 12);  // ceil(3 * 0.15 s * 25 fps)
  for (int t = R; t < T - R; ++t) CHECK(residual_energy[t] < 1e-24);
  CHECK(residual_energy[0] > 1e-6);  // the cut kernel at the ends does see the ramp
}

TEST_CASE("evaluation: white noise leaves sigma^2 (1 - 2 w0 + sum w^2) per element") {
  const double fps = 25, sigma = 0.5;
  const std::vector<double> w = temporal_gaussian(0.15 * fps);
  double sum_w2 = 0;
  for (double x : w) sum_w2 += x * x;
  const double w0 = w[w.size() / 2];
  const double expect = sigma * sigma * (1 - 2 * w0 + sum_w2);
  Rng rng(11);
  const int T = 400, R = static_cast<int>(w.size() / 2);
  double energy = 0, n = 0;
  TemporalHighpass hp(fps, [&](int64_t t, const std::vector<double>& r) {
    if (t < R || t >= T - R) return;  // interior frames: the full kernel
    for (double d : r) energy += d * d, n += 1;
  });
  StreamScore s(fps, nullptr);
  for (int t = 0; t < T; ++t) {
    const Tensor f = random_frame(rng, 1, 16, 16, sigma);
    hp.push(f);
    s.push(f);
  }
  hp.finish();
  s.finish();
  CHECK(energy / n == doctest::Approx(expect).epsilon(0.03));
  // E|v_t - v_{t-1}| = 2 sigma / sqrt(pi) for independent normals.
  CHECK(s.flicker() == doctest::Approx(2 * sigma / std::sqrt(M_PI)).epsilon(0.03));
}

TEST_CASE("evaluation: an exact translation with its true motion has warping error 0") {
  Rng rng(3);
  const int64_t H = 12, W = 16;
  const Tensor base = random_frame(rng, 3, H, W + 40);
  const std::vector<double> b = base.to_host();
  StreamScore s(25, nullptr);
  for (int t = 0; t < 20; ++t) {
    // Frame t shows the base shifted left by t pixels: x of frame t was x + 1 in frame t - 1.
    std::vector<double> f(3 * H * W), flow(3 * H * W, 0.0);
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t y = 0; y < H; ++y)
        for (int64_t x = 0; x < W; ++x) f[(c * H + y) * W + x] = b[(c * H + y) * (W + 40) + x + t];
    for (int64_t k = 0; k < H * W; ++k) flow[k] = 1.0, flow[2 * H * W + k] = t > 0 ? 1.0 : 0.0;
    s.push(frame_of(f, 3, H, W), Tensor(), Tensor(), frame_of(flow, 3, H, W));
  }
  s.finish();
  CHECK(s.warping_error() == doctest::Approx(0.0));
  CHECK(s.flicker() > 0.1);  // the frames do change
}

TEST_CASE("evaluation: S = 1 for a prediction equal to the reference, 1/g for a gain g, any mask") {
  Rng rng(5);
  const double g = 2.5;
  Pair same(25), gain(25);
  for (int t = 0; t < 40; ++t) {
    const Tensor m = random_mask(rng, 8, 8);
    same.masks.push_back(m);
    gain.masks.push_back(m);
    const Tensor ref = random_frame(rng, 2, 8, 8);
    same.pred.push(ref, ref);
    same.ref.push(ref);
    gain.pred.push(cpu_backend().scale_shift(ref, g, 0.0), ref);
    gain.ref.push(ref);
  }
  for (Pair* p : {&same, &gain}) p->pred.finish(), p->ref.finish();
  for (size_t j : {0, 1}) {
    CHECK(same.s(j) == doctest::Approx(1.0).epsilon(1e-12));
    CHECK(gain.s(j) == doctest::Approx(1.0 / g).epsilon(1e-12));
  }
  CHECK(std::isinf(same.pred.error.psnr()));
  CHECK(same.pred.per_frame_error[7] == 0.0);
}

TEST_CASE("evaluation: a static sequence has no temporal energy under any mask") {
  Rng rng(8);
  const Tensor still = random_frame(rng, 3, 6, 6);
  std::vector<Tensor> masks;
  StreamScore s(30, [&](int64_t t) { return std::vector<Tensor>{masks.at(t)}; });
  for (int t = 0; t < 25; ++t) {
    masks.push_back(random_mask(rng, 6, 6));
    s.push(still);
  }
  s.finish();
  CHECK(s.energy[0] == 0.0);
  CHECK(s.energy[1] == 0.0);
  CHECK(s.counted[1] > 0);
}

TEST_CASE("evaluation: streamed energy equals the whole-sequence function") {
  Rng rng(9);
  std::vector<Tensor> frames;
  for (int t = 0; t < 33; ++t) frames.push_back(random_frame(rng, 3, 5, 7));
  StreamScore s(24, nullptr);
  for (const Tensor& f : frames) s.push(f);
  s.finish();
  CHECK(s.energy[0] == temporal_highpass_energy(frames, 24));
}

TEST_CASE("evaluation: every sequence gets its own camera, the same in every run") {
  TempDir dir("steady_eval_camera");
  Rng rng(2);
  // One HDR scene saved under two names.
  for (const char* name : {"seq_a", "seq_b"}) {
    fs::create_directories(dir.path / name);
    Rng scene(4);
    for (int t = 0; t < 3; ++t) {
      std::vector<float> v(3 * 16 * 16);
      for (float& x : v) x = static_cast<float>(std::exp(3 * scene.uniform() - 2));
      char file[32];
      std::snprintf(file, sizeof file, "f_%02d.exr", t);
      write_exr((dir.path / name / file).string(), Tensor::from_vector(v, {3, 16, 16}));
    }
  }
  SequenceReadOptions ropt;
  ropt.channels = 3;
  const std::string a = (dir.path / "seq_a").string(), b = (dir.path / "seq_b").string();
  const CameraParams ca = sequence_camera(a, ropt, 1), ca2 = sequence_camera(a, ropt, 1);
  const CameraParams cb = sequence_camera(b, ropt, 1), ca_other = sequence_camera(a, ropt, 2);
  CHECK(ca.exposure == ca2.exposure);
  CHECK(ca.n == ca2.n);
  CHECK(ca.a == ca2.a);
  CHECK((ca.exposure != cb.exposure || ca.n != cb.n));
  CHECK((ca.exposure != ca_other.exposure || ca.n != ca_other.n));
  CHECK(sequence_name(a + "/") == "seq_a");
  CHECK(sequence_name("x/clip.mp4") == "clip");
  CHECK(sequence_name("x/seq_%04d.exr") == "x");
}

namespace {

// An HDR sequence of T frames, log-uniform radiance over [e^-2, e^(1+brightness)], written as
// EXR frames into dir/name; returns its frames.
std::vector<Tensor> write_hdr_sequence(const fs::path& dir, const char* name, int T, int64_t side,
                                       double gain, uint64_t seed) {
  fs::create_directories(dir / name);
  Rng scene(seed);
  std::vector<Tensor> frames;
  for (int t = 0; t < T; ++t) {
    std::vector<float> v(static_cast<size_t>(3 * side * side));
    for (float& x : v) x = static_cast<float>(gain * std::exp(3 * scene.uniform() - 2));
    char file[32];
    std::snprintf(file, sizeof file, "f_%02d.exr", t);
    frames.push_back(Tensor::from_vector(v, {3, side, side}));
    write_exr((dir / name / file).string(), frames.back());
  }
  return frames;
}

std::vector<float> floats(const Tensor& t) {
  const Tensor f = t.dtype() == DType::F32 ? t : t.to(DType::F32);
  return std::vector<float>(f.data<float>(), f.data<float>() + f.numel());
}

}  // namespace

TEST_CASE("evaluation: the HDR input is the scene exposed once, the same bytes as train_hdr's samples") {
  TempDir dir("steady_eval_once");
  const std::vector<Tensor> frames = write_hdr_sequence(dir.path, "seq", 1, 32, 6.0, 9);
  CameraParams cam;
  cam.exposure = 0.37, cam.n = 0.85, cam.a = 0.7, cam.percentile = 93;  // far from e = 1
  const Tensor& scene = frames[0];
  std::vector<float> x(3 * 32 * 32), y(3 * 32 * 32), mask(32 * 32);
  HdrTask::sample_of(scene, cam, x.data(), y.data(), mask.data());
  const HdrEvalFrame f = hdr_eval_frame(scene, cam);
  CHECK(floats(f.net_input) == x);      // the network sees the same bytes in both paths
  CHECK(floats(f.reference_log) == y);  // and is scored against its training target
  // The reference is the exposed scene e * scene, and the input the camera's image of it.
  const std::vector<float> s = floats(scene), e = floats(f.exposed), ldr = floats(f.net_input);
  for (size_t i = 0; i < s.size(); ++i) {
    REQUIRE(e[i] == doctest::Approx(cam.exposure * s[i]).epsilon(1e-6));
    const double want = std::round(std::min(1.0, camera_curve(cam.exposure * s[i], cam.n, cam.a)) * 255) / 255;
    REQUIRE(ldr[i] == doctest::Approx(want).epsilon(1e-6));
  }
}

TEST_CASE("evaluation: the input's saturated share is the one the camera's clip percentile gives") {
  TempDir dir("steady_eval_share");
  // A bright scene (exposure near 0.1): a camera applied twice would saturate almost nothing.
  const std::vector<Tensor> frames = write_hdr_sequence(dir.path, "seq_bright", 4, 32, 8.0, 5);
  std::vector<LoadedModel> models;
  models.push_back({"untrained.safetensors", std::make_unique<HdrAutoencoder>()});
  Rng init(1);
  models[0].model->finalize(Device::CPU, init);
  EvalOptions opt;
  opt.quiet = true;
  opt.equivariance_every = 0;
  const SequenceResult r = evaluate_sequence((dir.path / "seq_bright").string(), models, opt);
  REQUIRE(r.camera.has_value());
  const CameraParams& cam = *r.camera;
  CHECK(cam.exposure < 0.5);
  CHECK(cam.percentile >= 90);
  CHECK(cam.percentile <= 99);
  // Independently, from the scene: the pixels whose exposed max channel the camera's curve
  // takes to a quantized value above tau = 0.95 (242.5 / 255 rounds up to 243 / 255 > 0.95).
  const double x_tau = camera_curve_inverse(242.5 / 255, cam.n, cam.a);
  int64_t above = 0, clipped = 0, pixels = 0;
  for (const Tensor& f : frames) {
    const std::vector<float> v = floats(f);
    const size_t plane = v.size() / 3;
    for (size_t k = 0; k < plane; ++k, ++pixels) {
      const double m = cam.exposure * std::max({v[k], v[plane + k], v[2 * plane + k]});
      above += m > x_tau;
      clipped += m >= 1.0;
    }
  }
  const double clip_share = static_cast<double>(clipped) / static_cast<double>(pixels);
  CHECK(clip_share == doctest::Approx(1 - cam.percentile / 100).epsilon(0.02));  // the percentile's meaning
  CHECK(r.saturated_share == doctest::Approx(static_cast<double>(above) / static_cast<double>(pixels)).epsilon(1e-3));
  CHECK(r.saturated_share >= clip_share);
}
