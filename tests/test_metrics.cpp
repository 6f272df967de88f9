// Metrics (data/metrics.*): smoothness S of Eq. 9-10 and PSNR against tests/data/smoothness.json
// (computed independently in float64); hand-computed cases: a constant sequence, a constant plus
// white noise, a linear ramp in time (only the cut kernel at the ends sees it), the expected
// energy of white noise; PSNR known values with masks and pooling over frames, and the HDR
// convention; the warping error is zero for exact translations (integer, and fractional on a
// linear image where bilinear sampling is exact) and equals the hand value for a wrong motion.
#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/metrics.h"
#include "engine/rng.h"

using namespace steady;

namespace {

// [T][H][W] JSON -> frames [1,H,W] in float64.
std::vector<Tensor> frames_from_json(const nlohmann::json& a) {
  std::vector<Tensor> frames;
  for (const auto& frame : a) {
    std::vector<double> v;
    const int64_t h = static_cast<int64_t>(frame.size()), w = static_cast<int64_t>(frame[0].size());
    for (const auto& row : frame)
      for (const auto& x : row) v.push_back(x.get<double>());
    frames.push_back(Tensor::from_vector(v, {1, h, w}));
  }
  return frames;
}

std::vector<Tensor> constant_sequence(int t_n, double c) {
  std::vector<Tensor> s;
  for (int t = 0; t < t_n; ++t) s.push_back(Tensor::full({3, 4, 5}, c, Device::CPU, DType::F64));
  return s;
}

// D(v) straight from the definition, written independently of the library: for each frame the
// Gaussian weights of the frames that exist within ceil(3 sigma), divided by their sum.
double naive_energy(const std::vector<std::vector<double>>& v, double sigma) {
  const int t_n = static_cast<int>(v.size()), r = static_cast<int>(std::ceil(3 * sigma));
  double e = 0;
  for (int t = 0; t < t_n; ++t)
    for (size_t i = 0; i < v[t].size(); ++i) {
      double num = 0, den = 0;
      for (int s = std::max(0, t - r); s <= std::min(t_n - 1, t + r); ++s) {
        const double w = std::exp(-double(s - t) * (s - t) / (2 * sigma * sigma));
        num += w * v[s][i];
        den += w;
      }
      e += (v[t][i] - num / den) * (v[t][i] - num / den);
    }
  return e;
}

}  // namespace

TEST_CASE("smoothness and PSNR match the float64 reference of tests/data/smoothness.json") {
  std::ifstream in(std::string(STEADY_TEST_DATA) + "/smoothness.json");
  REQUIRE(in.good());
  const nlohmann::json golden = nlohmann::json::parse(in);
  REQUIRE(golden["cases"].size() == 3);
  for (const auto& c : golden["cases"]) {
    const double fps = c["fps"], sigma_s = c["sigma_seconds"];
    CAPTURE(fps);
    const std::vector<Tensor> gt = frames_from_json(c["gt"]), pred = frames_from_json(c["pred"]);
    const Smoothness s = smoothness(gt, pred, fps, sigma_s);
    const double e_gt = c["energy_gt"], e_pred = c["energy_pred"], s_ref = c["smoothness"];
    const double psnr_ref = c["psnr_peak1"];
    CHECK(std::abs(s.energy_gt - e_gt) <= 1e-9 * e_gt);
    CHECK(std::abs(s.energy_pred - e_pred) <= 1e-9 * e_pred);
    CHECK(std::abs(s.s - s_ref) <= 1e-9 * s_ref);
    CHECK(std::abs(psnr(pred, gt, 1.0) - psnr_ref) <= 1e-9);
    // The same in float32 frames, to float precision.
    std::vector<Tensor> gt32, pred32;
    for (const Tensor& f : gt) gt32.push_back(f.to(DType::F32));
    for (const Tensor& f : pred) pred32.push_back(f.to(DType::F32));
    CHECK(smoothness(gt32, pred32, fps, sigma_s).s == doctest::Approx(s_ref).epsilon(1e-5));
  }
}

TEST_CASE("temporal Gaussian: ceil(3 sigma) taps each side, normalized, symmetric") {
  const std::vector<double> g = temporal_gaussian(3.75);  // 0.15 s at 25 fps
  REQUIRE(g.size() == 25);
  double sum = 0;
  for (double w : g) sum += w;
  CHECK(sum == doctest::Approx(1.0).epsilon(1e-15));
  for (int k = 0; k < 12; ++k) CHECK(g[k] == doctest::Approx(g[24 - k]).epsilon(1e-15));
  CHECK(g[12 + 1] / g[12] == doctest::Approx(std::exp(-1.0 / (2 * 3.75 * 3.75))).epsilon(1e-14));
  CHECK(temporal_gaussian(0.5).size() == 5);
  CHECK_THROWS_AS(temporal_gaussian(0.0), Error);
}

TEST_CASE("a constant sequence has no temporal energy; constant + white noise has S = 0") {
  const std::vector<Tensor> gt = constant_sequence(30, 0.37);
  CHECK(temporal_highpass_energy(gt, 25) == 0.0);
  // pred = gt + white noise: its energy is the hand sum, S = sqrt(0 / E) = 0 and the PSNR is
  // that of the noise alone.
  Rng rng(17);
  std::vector<Tensor> pred;
  std::vector<std::vector<double>> v;
  double sq = 0;
  int64_t count = 0;
  for (int t = 0; t < 30; ++t) {
    std::vector<double> f(60);
    for (double& x : f) {
      const double n = 0.05 * rng.normal();
      x = 0.37 + n;
      sq += n * n;
      ++count;
    }
    v.push_back(f);
    pred.push_back(Tensor::from_vector(f, {3, 4, 5}));
  }
  const Smoothness s = smoothness(gt, pred, 25.0);
  CHECK(s.energy_gt == 0.0);
  CHECK(s.s == 0.0);
  CHECK(s.energy_pred == doctest::Approx(naive_energy(v, 3.75)).epsilon(1e-12));
  CHECK(psnr(pred, gt, 1.0) == doctest::Approx(10 * std::log10(count / sq)).epsilon(1e-12));
  // Swapped: the prediction is perfectly smooth, S is infinite.
  CHECK(std::isinf(smoothness(pred, gt, 25.0).s));
}

TEST_CASE("a linear ramp in time: zero energy inside, the cut kernel's bias at the ends") {
  // sigma = 0.5 frames (fps 1, sigma 0.5 s): taps k = -2..2 with weights 1, e^-2, e^-8.
  const int t_n = 6;
  std::vector<Tensor> ramp;
  for (int t = 0; t < t_n; ++t) ramp.push_back(Tensor::full({1, 1, 1}, double(t), Device::CPU, DType::F64));
  const double g1 = std::exp(-2.0), g2 = std::exp(-8.0);
  // Frame 0 sees frames 0..2; frame 1 sees 0..3; frames 2 and 3 see the whole symmetric window.
  const double d0 = (g1 + 2 * g2) / (1 + g1 + g2);
  const double d1 = 2 * g2 / (1 + 2 * g1 + g2);
  const double hand = 2 * (d0 * d0 + d1 * d1);
  CHECK(temporal_highpass_energy(ramp, 1.0, 0.5) == doctest::Approx(hand).epsilon(1e-12));
  // Longer ramps add nothing in the middle.
  for (int t = t_n; t < 20; ++t) ramp.push_back(Tensor::full({1, 1, 1}, double(t), Device::CPU, DType::F64));
  CHECK(temporal_highpass_energy(ramp, 1.0, 0.5) == doctest::Approx(hand).epsilon(1e-12));
}

TEST_CASE("white noise: energy per frame is sigma^2 (1 - 2 g0 + sum g^2) away from the ends") {
  const std::vector<double> g = temporal_gaussian(3.75);
  double sum_sq = 0;
  for (double w : g) sum_sq += w * w;
  const double per_sample = 1 - 2 * g[12] + sum_sq;  // E[(n_t - sum g_k n_{t+k})^2], unit variance
  Rng rng(5);
  std::vector<Tensor> noise;
  for (int t = 0; t < 4000; ++t) {
    std::vector<double> f(10);
    for (double& x : f) x = rng.normal();
    noise.push_back(Tensor::from_vector(f, {1, 2, 5}));
  }
  const double e = temporal_highpass_energy(noise, 25.0);
  CHECK(e / (4000 * 10) == doctest::Approx(per_sample).epsilon(0.03));
}

TEST_CASE("PSNR: known values, masks over all channels, pooling over frames") {
  Rng rng(3);
  std::vector<float> g(3 * 4 * 4);
  for (float& x : g) x = static_cast<float>(rng.uniform(0.2, 0.6));
  Tensor gt = Tensor::from_vector(g, {3, 4, 4});
  // Error 0.1 on the left half of the image, 0.3 on the right.
  std::vector<double> p(g.begin(), g.end()), m(16);
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < 4; ++y)
      for (int x = 0; x < 4; ++x) {
        p[(c * 4 + y) * 4 + x] += x < 2 ? 0.1 : 0.3;
        m[y * 4 + x] = x < 2 ? 1.0 : 0.0;
      }
  Tensor pred = Tensor::from_vector(p, {3, 4, 4});
  Tensor mask = Tensor::from_vector(m, {1, 4, 4});
  CHECK(psnr(pred, gt.to(DType::F64), 1.0, mask) == doctest::Approx(20.0).epsilon(1e-6));
  CHECK(psnr(pred, gt.to(DType::F64)) == doctest::Approx(10 * std::log10(1 / 0.05)).epsilon(1e-6));
  CHECK(psnr(pred, gt.to(DType::F64), 2.0, mask) ==
        doctest::Approx(20.0 + 20 * std::log10(2.0)).epsilon(1e-6));
  // Pooled over frames: one MSE of all squared errors, not the mean of per-frame PSNRs.
  Tensor a = Tensor::full({1, 2, 2}, 0.1, Device::CPU, DType::F64), z = Tensor::zeros({1, 2, 2}, Device::CPU, DType::F64);
  Tensor b = Tensor::full({1, 2, 2}, 0.3, Device::CPU, DType::F64);
  CHECK(psnr({a, b}, {z, z}) == doctest::Approx(10 * std::log10(1 / 0.05)).epsilon(1e-12));
  SquaredError none;
  CHECK(std::isnan(none.psnr()));
  CHECK(std::isinf(psnr(a, a)));
  CHECK_THROWS_AS(psnr(a, Tensor::zeros({1, 2, 3})), Error);
  CHECK_THROWS_AS(psnr(pred, gt, 1.0, Tensor::zeros({2, 4, 4})), Error);
}

TEST_CASE("HDR PSNR: log(v + 1/255) over the pixels the LDR input saturates") {
  // Four pixels; the LDR input saturates pixels 1 and 3 (max channel above 0.95).
  Tensor ldr = Tensor::from_vector(std::vector<float>{0.5f, 0.99f, 0.2f, 1.0f,  //
                                    0.5f, 0.10f, 0.9f, 0.3f,  //
                                    0.5f, 0.10f, 0.2f, 0.3f},
                                   {3, 1, 4});
  std::vector<float> gt_v(12), pred_v(12);
  for (int i = 0; i < 12; ++i) {
    gt_v[i] = 0.5f + 0.7f * i;
    pred_v[i] = i % 4 == 1 || i % 4 == 3 ? gt_v[i] * 1.5f : 100.f;  // unsaturated pixels ignored
  }
  Tensor gt = Tensor::from_vector(gt_v, {3, 1, 4}), pred = Tensor::from_vector(pred_v, {3, 1, 4});
  double sq = 0;
  for (int i = 0; i < 12; ++i)
    if (i % 4 == 1 || i % 4 == 3) {
      const double d = std::log(double(pred_v[i]) + 1.0 / 255) - std::log(double(gt_v[i]) + 1.0 / 255);
      sq += d * d;
    }
  SquaredError acc;
  add_hdr_saturated(acc, pred, gt, ldr);
  CHECK(acc.weight() == 6.0);
  CHECK(acc.psnr() == doctest::Approx(10 * std::log10(6.0 / sq)).epsilon(1e-5));
}

TEST_CASE("warping error is zero for an exact integer translation") {
  // Frames slide 1 px right per frame over a random wide pattern; pixel x of frame t shows what
  // frame t-1 showed at x - 1.
  const int w = 10, h = 6, t_n = 5;
  Rng rng(21);
  std::vector<double> base(3 * h * (w + t_n));
  for (double& x : base) x = rng.uniform();
  std::vector<Tensor> frames, flow;
  for (int t = 0; t < t_n; ++t) {
    std::vector<double> f(3 * h * w), d(3 * h * w, 0.0);
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) f[(c * h + y) * w + x] = base[(c * h + y) * (w + t_n) + x - t + t_n];
    for (int k = 0; k < h * w; ++k) {
      d[k] = -1.0;           // dx
      d[2 * h * w + k] = 1;  // valid
    }
    frames.push_back(Tensor::from_vector(f, {3, h, w}));
    flow.push_back(Tensor::from_vector(d, {3, h, w}));
  }
  const WarpingError e = warping_error(frames, flow);
  CHECK(e.error == 0.0);
  CHECK(e.frames == t_n - 1);
  CHECK(e.valid_share == doctest::Approx(double(w - 1) / w));  // column 0 came from outside
  // Float32 frames give zero too: integer positions sample exactly.
  std::vector<Tensor> f32;
  for (const Tensor& f : frames) f32.push_back(f.to(DType::F32));
  CHECK(warping_error(f32, flow).error == 0.0);
}

TEST_CASE("warping error: exact for sub-pixel motion of a linear image, hand value when wrong") {
  // L(x, y, c) = 0.02 x + 0.01 y + 0.1 c moving 0.3 px right per frame: bilinear sampling of a
  // linear function is exact, so the true flow (-0.3, 0) leaves no error.
  const int w = 9, h = 7, t_n = 4;
  const double a = 0.02;
  std::vector<Tensor> frames, truth, still;
  for (int t = 0; t < t_n; ++t) {
    std::vector<double> f(3 * h * w), d(3 * h * w, 0.0), z(3 * h * w, 0.0);
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) f[(c * h + y) * w + x] = a * (x - 0.3 * t) + 0.01 * y + 0.1 * c;
    for (int k = 0; k < h * w; ++k) {
      d[k] = -0.3;
      d[2 * h * w + k] = 1;
      z[2 * h * w + k] = 1;
    }
    frames.push_back(Tensor::from_vector(f, {3, h, w}));
    truth.push_back(Tensor::from_vector(d, {3, h, w}));
    still.push_back(Tensor::from_vector(z, {3, h, w}));
  }
  CHECK(warping_error(frames, truth).error < 1e-28);
  // Assuming no motion: every pixel is off by 0.3 a in each of the 3 channels.
  const WarpingError wrong = warping_error(frames, still);
  CHECK(wrong.error == doctest::Approx(3 * (0.3 * a) * (0.3 * a)).epsilon(1e-9));
  CHECK(wrong.valid_share == 1.0);
  // Pixels marked invalid or pointing outside do not count.
  std::vector<double> d(3 * h * w, 0.0);
  for (int k = 0; k < h * w; ++k) d[2 * h * w + k] = k % 2;
  d[1] = 100.0;  // a valid pixel whose source lies outside
  Tensor valid;
  warp_by_flow(frames[0], Tensor::from_vector(d, {3, h, w}), &valid);
  const float* v = valid.data<float>();
  CHECK(v[0] == 0.f);
  CHECK(v[1] == 0.f);
  CHECK(v[3] == 1.f);
  CHECK_THROWS_AS(warping_error(frames, {truth[0]}), Error);
}
