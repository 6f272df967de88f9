// gen_procedural --pan (data/procedural.h pan_sequence): a window panned across a synthetic HDR
// image written to a temporary EXR. Each frame is the exposed image sampled bilinearly at the
// stored window path (checked against a naive double-precision sampler); the stored motion is
// the path's step, uniform, valid exactly where x + d stays inside, and warps frame t-1 onto
// frame t far better than altered motions; the saturated share lies in the requested range;
// the same seed gives the same bytes; multi-part output equals the folder; bad use is refused.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/image_io.h"
#include "data/metrics.h"
#include "data/procedural.h"
#include "tools/lib/procedural_tool.h"
#include "data/sequence.h"
#include "tests/motion_check.h"
#include "tests/temp_dir.h"

using namespace steady;
namespace fs = std::filesystem;
using steady::test::TempDir;

namespace {

constexpr int kW = 160, kH = 120;

// Smooth HDR content: a sky-like gradient, soft blobs of ordinary brightness and a few small
// very bright ones (lights), band-limited (sigma >= 2.5 px) so bilinear warping can follow it.
Tensor synthetic_hdr() {
  Tensor img = Tensor::empty({3, kH, kW});
  float* p = img.data<float>();
  struct Blob {
    double x, y, s, r, g, b;
  };
  const Blob blobs[] = {{30, 40, 9, 0.6, 0.3, 0.2},    {80, 70, 14, 0.2, 0.5, 0.3},
                        {130, 30, 8, 0.3, 0.3, 0.7},   {110, 95, 11, 0.5, 0.5, 0.1},
                        {55, 100, 6, 0.4, 0.2, 0.6},   {95, 25, 2.5, 30.0, 25.0, 18.0},
                        {40, 75, 3.0, 12.0, 16.0, 20.0}, {140, 80, 2.5, 40.0, 30.0, 10.0}};
  for (int y = 0; y < kH; ++y)
    for (int x = 0; x < kW; ++x) {
      double c[3] = {0.05 + 0.10 * y / kH, 0.07 + 0.08 * x / kW, 0.12 + 0.05 * std::sin(0.05 * x)};
      for (const Blob& b : blobs) {
        const double e = std::exp(-((x - b.x) * (x - b.x) + (y - b.y) * (y - b.y)) / (2 * b.s * b.s));
        c[0] += b.r * e, c[1] += b.g * e, c[2] += b.b * e;
      }
      for (int k = 0; k < 3; ++k) p[(k * kH + y) * kW + x] = static_cast<float>(c[k]);
    }
  return img;
}

// Naive bilinear sample of img [3,H,W] at (x, y), pixel indices, in double.
double bilinear(const Tensor& img, int c, double x, double y) {
  const int64_t h = img.size(1), w = img.size(2);
  const float* p = img.data<float>();
  const int64_t x0 = static_cast<int64_t>(std::floor(x)), y0 = static_cast<int64_t>(std::floor(y));
  const double tx = x - x0, ty = y - y0;
  auto at = [&](int64_t yy, int64_t xx) {
    REQUIRE(xx >= 0);
    REQUIRE(yy >= 0);
    REQUIRE(xx < w);
    REQUIRE(yy < h);
    return static_cast<double>(p[(c * h + yy) * w + xx]);
  };
  const double top = at(y0, x0) * (1 - tx) + (tx > 0 ? at(y0, x0 + 1) * tx : 0.0);
  const double bottom = ty > 0 ? at(y0 + 1, x0) * (1 - tx) + (tx > 0 ? at(y0 + 1, x0 + 1) * tx : 0.0) : 0.0;
  return top * (1 - ty) + bottom * ty;
}

int gen(std::vector<std::string> args) {
  args.insert(args.begin(), "gen_procedural");
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  return gen_procedural_main(static_cast<int>(argv.size()), argv.data());
}

std::string file_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

nlohmann::json read_json(const fs::path& p) {
  std::ifstream in(p);
  return nlohmann::json::parse(in);
}

double max_channel_share(const std::vector<Tensor>& frames) {
  int64_t sat = 0, total = 0;
  for (const Tensor& f : frames) {
    const int64_t plane = f.size(1) * f.size(2);
    const float* p = f.data<float>();
    for (int64_t k = 0; k < plane; ++k)
      sat += std::max(p[k], std::max(p[plane + k], p[2 * plane + k])) >= 1.0f, ++total;
  }
  return static_cast<double>(sat) / static_cast<double>(total);
}

}  // namespace

TEST_CASE("--pan: frames are the exposed image at the stored path; the motion is its step") {
  TempDir dir("steady_test_pan");
  const Tensor img = synthetic_hdr();
  write_exr(dir / "image.exr", img);
  constexpr int kFrames = 12, kSize = 48;
  REQUIRE(gen({dir / "out", "--pan", dir / "image.exr", "--frames", std::to_string(kFrames),
               "--size", std::to_string(kSize), "--seed", "5", "--sat-min", "0.02", "--sat-max",
               "0.08", "--quiet"}) == 0);
  REQUIRE(fs::exists(dir.path / "out/test/seq_000/flow/flow_0000.exr"));
  CHECK_FALSE(fs::exists(dir.path / "out/test/seq_001"));  // --test-seqs defaults to 1
  CHECK_FALSE(fs::exists(dir.path / "out/train"));
  const nlohmann::json info = read_json(dir.path / "out/test/seq_000/sequence.json");
  const std::vector<double> wx = info.at("window_x"), wy = info.at("window_y");
  const double k = info.at("exposure_scale");
  REQUIRE(wx.size() == kFrames);
  REQUIRE(wy.size() == kFrames);
  CHECK(info.at("pan_image") == dir / "image.exr");

  const Sequence seq = read_sequence(dir / "out/test/seq_000");
  REQUIRE(seq.frames.size() == kFrames);
  REQUIRE(seq.flow.size() == kFrames);
  CHECK(seq.fps == doctest::Approx(25.0));

  // Frames: k * bilinear(image, window + x), up to float rounding and the <0.1% nudge that keeps
  // pixels off the clip point.
  int64_t mismatches = 0;
  for (int t = 0; t < kFrames; ++t) {
    CHECK(wx[t] >= 0.0);
    CHECK(wy[t] >= 0.0);
    CHECK(wx[t] <= kW - kSize - 1);
    CHECK(wy[t] <= kH - kSize - 1);
    const float* f = seq.frames[t].data<float>();
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < kSize; ++y)
        for (int x = 0; x < kSize; ++x) {
          const double ref = k * bilinear(img, c, wx[t] + x, wy[t] + y);
          const double got = f[(c * kSize + y) * kSize + x];
          mismatches += std::fabs(got - ref) > 1.5e-3 * ref + 1e-6;
        }
  }
  CHECK(mismatches == 0);

  // Motion: zero at frame 0; d = window_t - window_{t-1} everywhere (half floats: 2^-9 px at
  // 2..4 px), negative steps included (the flow reader must not clamp them like radiance);
  // valid where x + d is inside the frame.
  for (float v : seq.flow[0].to_host()) CHECK(v == 0.0);
  bool subpixel = false;
  for (int t = 1; t < kFrames; ++t) {
    const double dx = wx[t] - wx[t - 1], dy = wy[t] - wy[t - 1];
    CHECK(std::hypot(dx, dy) < 4.0);
    CHECK(std::hypot(dx, dy) > 0.01);
    subpixel = subpixel || std::fabs(dx - std::round(dx)) > 0.05 || std::fabs(dy - std::round(dy)) > 0.05;
    const float* fl = seq.flow[t].data<float>();
    const int64_t plane = kSize * kSize;
    int64_t bad = 0;
    for (int y = 0; y < kSize; ++y)
      for (int x = 0; x < kSize; ++x) {
        const int64_t q = y * kSize + x;
        bad += std::fabs(fl[q] - dx) > 2e-3 || std::fabs(fl[plane + q] - dy) > 2e-3;
        const double sx = x + fl[q], sy = y + fl[plane + q];
        const bool inside = sx >= 0 && sy >= 0 && sx <= kSize - 1 && sy <= kSize - 1;
        bad += (fl[2 * plane + q] == 1.0f) != inside;
      }
    CAPTURE(t);
    CAPTURE(dx);
    CAPTURE(dy);
    CHECK(bad == 0);
  }
  CHECK(subpixel);

  // Saturated share: inside the requested range, as stored.
  const double share = max_channel_share(seq.frames);
  CHECK(share >= 0.02);
  CHECK(share <= 0.08);
  CHECK(share == doctest::Approx(static_cast<double>(info.at("saturated_share"))).epsilon(1e-9));
}

TEST_CASE("--pan: the stored motion warps frame t-1 onto frame t with a small error") {
  ProceduralOptions opt;
  opt.size = 48;
  const ProceduralSequence seq = pan_sequence(synthetic_hdr(), 9, 0, 10, opt);
  REQUIRE(seq.flow.size() == 10);
  // In the log domain (bright and dark content weigh alike), as in test_data's check of the
  // procedural motion: the truth must beat no motion, reversed motion and motion off by 0.3 px
  // by far. Bilinear resampling of an already resampled frame leaves a small residue.
  std::vector<Tensor> logs;
  for (const Tensor& f : seq.frames) logs.push_back(hdr_log(f));
  const WarpingError truth = warping_error(logs, seq.flow);
  CHECK(truth.frames == 9);
  CHECK(truth.valid_share > 0.8);
  INFO("warping error with the true motion: ", truth.error);
  CHECK(truth.error < 1e-3);
  test::check_true_motion_wins(logs, seq.flow, truth.error, 0.25, true);
  // Another index of the same seed takes another path.
  const ProceduralSequence other = pan_sequence(synthetic_hdr(), 9, 1, 10, opt);
  CHECK(other.window_x != seq.window_x);
}

TEST_CASE("--pan: same seed same bytes, another seed another path; multi-part equals folders") {
  TempDir dir("steady_test_pan");
  write_exr(dir / "image.exr", synthetic_hdr());
  const std::vector<std::string> common = {"--pan", dir / "image.exr", "--frames", "5", "--size",
                                           "40", "--test-seqs", "2", "--quiet"};
  auto run = [&](const std::string& out, const std::string& seed, std::vector<std::string> extra = {}) {
    std::vector<std::string> a = {dir / out};
    a.insert(a.end(), common.begin(), common.end());
    a.insert(a.end(), {"--seed", seed});
    a.insert(a.end(), extra.begin(), extra.end());
    return gen(a);
  };
  REQUIRE(run("a", "3") == 0);
  REQUIRE(run("b", "3") == 0);
  REQUIRE(run("c", "4") == 0);
  REQUIRE(run("m", "3", {"--multipart"}) == 0);
  int compared = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir.path / "a")) {
    if (!e.is_regular_file()) continue;
    const fs::path rel = fs::relative(e.path(), dir.path / "a");
    CAPTURE(rel.string());
    CHECK(file_bytes(e.path()) == file_bytes(dir.path / "b" / rel));
    ++compared;
  }
  CHECK(compared == 2 * (5 + 5 + 1) + 1);  // frames, flows, sequence.json per sequence; info.json
  CHECK(file_bytes(dir.path / "a/test/seq_001/frame_0002.exr") !=
        file_bytes(dir.path / "c/test/seq_001/frame_0002.exr"));
  CHECK(file_bytes(dir.path / "a/test/seq_000/frame_0002.exr") !=
        file_bytes(dir.path / "a/test/seq_001/frame_0002.exr"));
  const Sequence folder = read_sequence(dir / "a/test/seq_001");
  const Sequence multi = read_sequence(dir / "m/test/seq_001.exr");
  REQUIRE(multi.frames.size() == 5);
  REQUIRE(multi.flow.size() == 5);
  for (size_t t = 0; t < 5; ++t) {
    CHECK(folder.frames[t].to_host() == multi.frames[t].to_host());
    CHECK(folder.flow[t].to_host() == multi.flow[t].to_host());
  }
}

TEST_CASE("--pan: usage errors are one clear line and exit code 1") {
  TempDir dir("steady_test_pan");
  write_exr(dir / "image.exr", synthetic_hdr());
  write_exr(dir / "small.exr", Tensor::full({3, 20, 30}, 0.5));
  CHECK(gen({dir / "x", "--pan", dir / "small.exr", "--size", "24"}) == 1);   // window too big
  CHECK(gen({dir / "x", "--pan", dir / "image.exr", "--train", "3"}) == 1);   // no training set
  CHECK(gen({dir / "x", "--pan", dir / "missing.exr"}) == 1);
  CHECK(gen({dir / "x", "--pan", dir / "image.exr", "--size", "64", "--frames", "1"}) == 1);
  CHECK_FALSE(fs::exists(dir.path / "x"));  // nothing written on a refused run
  // A flat image cannot reach any saturated share.
  write_exr(dir / "flat.exr", Tensor::full({3, 60, 60}, 0.5));
  CHECK(gen({dir / "y", "--pan", dir / "flat.exr", "--size", "16", "--frames", "3", "--quiet"}) == 1);
  ProceduralOptions opt;
  opt.size = 16;
  CHECK_THROWS_AS(pan_sequence(Tensor::full({3, 60, 60}, 0.5), 1, 0, 3, opt), Error);
  CHECK_THROWS_AS(pan_sequence(Tensor::full({3, 17, 60}, 0.5), 1, 0, 3, opt), Error);
}
