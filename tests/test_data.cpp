// Data side (data/): image files (EXR single- and multi-part, PNG, JPEG, Radiance HDR) round
// trips and every kind of bad file rejected with steady::Error naming the file; the virtual
// camera (monotonic, clipped, quantized, seeded, percentile exposure) and the saturation mask;
// gen_procedural (same seed same bytes, different seed different, saturated share inside the
// requested range in float and half files, true motion that explains the frames); reading a
// sequence as a folder, a printf pattern and a multi-part EXR gives the same frames.
#include <doctest/doctest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <tuple>
#include <vector>

#include <ImfChannelList.h>
#include <ImfFrameBuffer.h>
#include <ImfHeader.h>
#include <ImfOutputFile.h>
#include <half.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>
#pragma GCC diagnostic pop

#include "data/camera.h"
#include "data/image_io.h"
#include "data/metrics.h"
#include "data/procedural.h"
#include "tools/lib/procedural_tool.h"
#include "data/sequence.h"
#include "engine/rng.h"
#include "tests/error_check.h"
#include "tests/motion_check.h"
#include "tests/temp_dir.h"

using namespace steady;
namespace fs = std::filesystem;
using steady::test::TempDir;

namespace {

Tensor random_image(int64_t c, int64_t h, int64_t w, uint64_t seed, double lo, double hi) {
  Rng rng(seed);
  std::vector<float> v(static_cast<size_t>(c * h * w));
  for (float& x : v) x = static_cast<float>(rng.uniform(lo, hi));
  return Tensor::from_vector(v, {c, h, w});
}

std::vector<float> values(const Tensor& t) {
  std::vector<double> d = t.to_host();
  return std::vector<float>(d.begin(), d.end());
}

bool same_bits(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape()) return false;
  std::vector<float> x = values(a), y = values(b);
  return std::equal(x.begin(), x.end(), y.begin(),
                    [](float p, float q) { return std::memcmp(&p, &q, sizeof(float)) == 0; });
}

std::string bytes_of(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
}

// The call must throw steady::Error whose one-line message names `path` (and `also`).
template <class F>
void check_error_names(F&& call, const std::string& path, const std::string& also = "") {
  CAPTURE(path);
  if (also.empty())
    test::check_error(call, {path});
  else
    test::check_error(call, {path, also});
}

// An EXR written straight through OpenEXR, for layouts write_exr does not produce.
void write_raw_exr(const std::string& path, const std::vector<std::string>& channels, int w, int h,
                   const std::vector<float>& planes, Imath::Box2i window = Imath::Box2i()) {
  Imf::Header header(w, h);
  if (!window.isEmpty()) {
    header.dataWindow() = window;
    header.displayWindow() = window;
  }
  Imf::FrameBuffer fb;
  for (size_t c = 0; c < channels.size(); ++c) {
    header.channels().insert(channels[c], Imf::Channel(Imf::FLOAT));
    fb.insert(channels[c],
              Imf::Slice::Make(Imf::FLOAT, planes.data() + c * size_t(w) * h,
                               window.isEmpty() ? Imath::Box2i({0, 0}, {w - 1, h - 1}) : window,
                               sizeof(float), sizeof(float) * size_t(w)));
  }
  Imf::OutputFile out(path.c_str(), header);
  out.setFrameBuffer(fb);
  out.writePixels(h);
}

// Runs gen_procedural in-process with these arguments.
int gen(std::vector<std::string> args) {
  args.insert(args.begin(), "gen_procedural");
  args.push_back("--quiet");
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  return gen_procedural_main(static_cast<int>(argv.size()), argv.data());
}

std::vector<std::string> files_under(const fs::path& root) {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(root))
    if (e.is_regular_file()) out.push_back(fs::relative(e.path(), root).string());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

// ----------------------------------------------------------------------------------- EXR

TEST_CASE("EXR float round trip is bit-exact for Y, RGB and RGBA, with an fps attribute") {
  TempDir dir("steady_test_data");
  for (int64_t c : {1, 3, 4}) {
    CAPTURE(c);
    Tensor img = random_image(c, 7, 9, 10 + c, 0.0, 50.0);
    img.data<float>()[0] = 1e-20f;  // tiny and huge values survive float exactly
    img.data<float>()[1] = 3.0e5f;
    const std::string path = dir / ("f" + std::to_string(c) + ".exr");
    ExrWriteOptions opt;
    opt.fps = 30.0;
    write_exr(path, img, opt);
    Tensor back = read_image(path);
    CHECK(same_bits(img, back));
    ExrInfo info = read_exr_info(path);
    CHECK(info.parts == 1);
    CHECK(info.width == 9);
    CHECK(info.height == 7);
    CHECK(info.channels == c);
    CHECK(info.fps == doctest::Approx(30.0));
  }
}

TEST_CASE("EXR half round trip stays within half precision; float64 tensors are accepted") {
  TempDir dir("steady_test_data");
  Tensor img = random_image(3, 8, 8, 3, 0.0, 100.0).to(DType::F64);
  ExrWriteOptions opt;
  opt.precision = ExrPrecision::Half;
  write_exr(dir / "h.exr", img, opt);
  Tensor back = read_exr(dir / "h.exr");
  CHECK(back.dtype() == DType::F32);
  std::vector<double> a = img.to_host(), b = back.to_host();
  for (size_t i = 0; i < a.size(); ++i) {
    // half keeps 11 significant bits: rounding error at most 2^-11 relative
    CHECK(std::abs(a[i] - b[i]) <= std::ldexp(std::abs(a[i]), -11) + 1e-7);
    CHECK(b[i] == static_cast<double>(static_cast<float>(half(static_cast<float>(a[i])))));
  }
}

TEST_CASE("EXR reading: negatives clamp to 0, data windows not at the origin, channel layouts") {
  TempDir dir("steady_test_data");
  // Negative values, as DWA compression leaves them, come back as 0.
  Tensor img = Tensor::from_vector(std::vector<float>{-0.01f, 0.5f, -3.f, 2.f}, {1, 2, 2});
  write_exr(dir / "neg.exr", img);
  CHECK(values(read_image(dir / "neg.exr")) == std::vector<float>({0.f, 0.5f, 0.f, 2.f}));

  // A data window at (5, 3): the pixels come back, sized by the window.
  std::vector<float> planes = {1, 2, 3, 4, 5, 6};
  write_raw_exr(dir / "win.exr", {"Y"}, 3, 2, planes, Imath::Box2i({5, 3}, {7, 4}));
  Tensor w = read_image(dir / "win.exr");
  CHECK(w.shape() == Shape({1, 2, 3}));
  CHECK(values(w) == planes);

  // Conversions on read: Y -> RGB repeats, RGB -> Y is Rec. 709 luminance, RGBA -> RGB drops A.
  Tensor rgba = Tensor::from_vector(std::vector<float>{1.f, 0.f, 0.5f, 0.25f}, {4, 1, 1});
  write_exr(dir / "rgba.exr", rgba);
  CHECK(values(read_image(dir / "rgba.exr", 3)) == std::vector<float>({1.f, 0.f, 0.5f}));
  CHECK(values(read_image(dir / "rgba.exr", 1))[0] ==
        doctest::Approx(0.2126 * 1 + 0.0722 * 0.5).epsilon(1e-6));
  Tensor y = Tensor::from_vector(std::vector<float>{0.3f}, {1, 1, 1});
  write_exr(dir / "y.exr", y);
  CHECK(values(read_image(dir / "y.exr", 3)) == std::vector<float>({0.3f, 0.3f, 0.3f}));
  CHECK(values(read_image(dir / "y.exr", 4)) == std::vector<float>({0.3f, 0.3f, 0.3f, 1.f}));
}

TEST_CASE("multi-part EXR: a sequence written as parts reads back part by part") {
  TempDir dir("steady_test_data");
  std::vector<Tensor> frames;
  for (int t = 0; t < 5; ++t) frames.push_back(random_image(3, 6, 10, 100 + t, 0.0, 4.0));
  ExrWriteOptions opt;
  opt.fps = 24;
  write_exr_multipart(dir / "seq.exr", frames, opt);
  CHECK(exr_part_count(dir / "seq.exr") == 5);
  CHECK(read_exr_info(dir / "seq.exr").fps == doctest::Approx(24.0));
  std::vector<Tensor> back = read_exr_parts(dir / "seq.exr");
  REQUIRE(back.size() == 5);
  for (int t = 0; t < 5; ++t) {
    CHECK(same_bits(frames[t], back[t]));
    CHECK(same_bits(frames[t], read_exr(dir / "seq.exr", t)));
  }
  check_error_names([&] { read_exr(dir / "seq.exr", 5); }, dir / "seq.exr", "part 5");
  // Frames of different shapes cannot share a file.
  frames[2] = random_image(3, 6, 11, 7, 0.0, 1.0);
  check_error_names([&] { write_exr_multipart(dir / "bad.exr", frames); }, dir / "bad.exr");
}

// ---------------------------------------------------------------------------- PNG, JPEG, HDR

TEST_CASE("PNG round trip is exact on 8-bit levels for 1, 3 and 4 channels") {
  TempDir dir("steady_test_data");
  for (int64_t c : {1, 3, 4}) {
    CAPTURE(c);
    Rng rng(c);
    std::vector<float> v(static_cast<size_t>(c * 5 * 6));
    for (float& x : v) x = static_cast<float>(rng.below(256)) / 255.0f;
    Tensor img = Tensor::from_vector(v, {c, 5, 6});
    const std::string path = dir / ("p" + std::to_string(c) + ".png");
    write_png(path, img);
    Tensor back = read_image(path);
    REQUIRE(back.shape() == img.shape());
    std::vector<float> b = values(back);
    for (size_t i = 0; i < v.size(); ++i) CHECK(b[i] == doctest::Approx(v[i]).epsilon(1e-7));
  }
  // Bytes after the IEND chunk (some writers add them) do not make a PNG unreadable.
  {
    std::ofstream out(dir / "p3.png", std::ios::binary | std::ios::app);
    out << "trailing bytes";
  }
  CHECK(read_image(dir / "p3.png").shape() == Shape({3, 5, 6}));
  // Out-of-range values are clamped on write.
  write_png(dir / "clamp.png", Tensor::from_vector(std::vector<float>{-1.f, 2.f, 0.5f}, {1, 1, 3}));
  std::vector<float> b = values(read_image(dir / "clamp.png"));
  CHECK(b[0] == 0.f);
  CHECK(b[1] == 1.f);
  CHECK(b[2] == doctest::Approx(128.0 / 255.0));
}

TEST_CASE("JPEG and Radiance HDR files read as [0,1] LDR and linear floats") {
  TempDir dir("steady_test_data");
  // A smooth 16x16 gradient, which JPEG keeps well at quality 95.
  std::vector<unsigned char> px(16 * 16 * 3);
  std::vector<float> hdr(16 * 16 * 3);
  for (int y = 0; y < 16; ++y)
    for (int x = 0; x < 16; ++x)
      for (int c = 0; c < 3; ++c) {
        px[(y * 16 + x) * 3 + c] = static_cast<unsigned char>(40 + 8 * x + 4 * c);
        hdr[(y * 16 + x) * 3 + c] = 0.01f * (1 + x) * (1 + y) * (1 + c);
      }
  REQUIRE(stbi_write_jpg((dir / "g.jpg").c_str(), 16, 16, 3, px.data(), 95));
  Tensor jpg = read_image(dir / "g.jpg");
  REQUIRE(jpg.shape() == Shape({3, 16, 16}));
  const float* j = jpg.data<float>();
  for (int y = 0; y < 16; ++y)
    for (int x = 0; x < 16; ++x)
      CHECK(j[y * 16 + x] == doctest::Approx((40 + 8 * x) / 255.0).epsilon(0.05));

  REQUIRE(stbi_write_hdr((dir / "r.hdr").c_str(), 16, 16, 3, hdr.data()));
  Tensor h = read_image(dir / "r.hdr");
  REQUIRE(h.shape() == Shape({3, 16, 16}));
  const float* p = h.data<float>();
  for (int c = 0; c < 3; ++c)
    for (int k = 0; k < 256; ++k)  // RGBE keeps 8 mantissa bits per pixel's largest channel
      CHECK(p[c * 256 + k] == doctest::Approx(hdr[k * 3 + c]).epsilon(0.02));
}

// -------------------------------------------------------------------------------- bad files

TEST_CASE("missing, empty, garbage, truncated and unsupported files give one-line errors") {
  TempDir dir("steady_test_data");
  // Valid files to cut short.
  // Smooth content, so ZIP compression is used (random floats would be stored raw, where a
  // flipped byte is just another value).
  std::vector<float> smooth(3 * 32 * 32);
  for (size_t i = 0; i < smooth.size(); ++i) smooth[i] = 0.25f * static_cast<float>(i % 32);
  write_exr(dir / "good.exr", Tensor::from_vector(smooth, {3, 32, 32}));
  write_png(dir / "good.png", random_image(3, 32, 32, 2, 0.0, 1.0));
  std::vector<unsigned char> px(32 * 32 * 3, 77);
  REQUIRE(stbi_write_jpg((dir / "good.jpg").c_str(), 32, 32, 3, px.data(), 90));
  const std::string exr = bytes_of(dir / "good.exr"), png = bytes_of(dir / "good.png"),
                    jpg = bytes_of(dir / "good.jpg");
  write_bytes(dir / "trunc.exr", exr.substr(0, exr.size() / 2));
  write_bytes(dir / "trunc.png", png.substr(0, png.size() / 2));
  write_bytes(dir / "trunc.jpg", jpg.substr(0, jpg.size() / 2));
  write_bytes(dir / "header_only.exr", exr.substr(0, 40));
  write_bytes(dir / "empty.png", "");
  write_bytes(dir / "text.jpg", "this is not an image at all, just some text\n");
  std::string garbage(3000, '\0');
  Rng rng(9);
  for (char& c : garbage) c = static_cast<char>(rng.below(256));
  write_bytes(dir / "garbage.exr", garbage);
  write_bytes(dir / "magic_garbage.exr", exr.substr(0, 4) + garbage);
  write_bytes(dir / "magic_garbage.png", png.substr(0, 8) + garbage);
  write_bytes(dir / "magic_garbage.jpg", jpg.substr(0, 3) + garbage);
  // A flipped byte in the middle of the compressed pixels.
  std::string flipped = exr;
  for (size_t i = exr.size() / 2; i < exr.size() / 2 + 64; ++i) flipped[i] = static_cast<char>(~flipped[i]);
  write_bytes(dir / "flipped.exr", flipped);

  for (const char* name : {"nope.exr", "trunc.exr", "trunc.png", "trunc.jpg", "header_only.exr",
                           "empty.png", "text.jpg", "garbage.exr", "magic_garbage.exr",
                           "magic_garbage.png", "magic_garbage.jpg", "flipped.exr"}) {
    CAPTURE(name);
    const std::string path = dir / name;
    check_error_names([&] { read_image(path); }, path);
  }
  check_error_names([&] { read_image(dir.path.string()); }, dir.path.string(), "folder");
  check_error_names([&] { read_exr(dir / "good.png"); }, dir / "good.png", "not an OpenEXR");
  check_error_names([&] { read_exr_parts(dir / "trunc.exr"); }, dir / "trunc.exr");
  check_error_names([&] { read_exr_info(dir / "garbage.exr"); }, dir / "garbage.exr");
}

TEST_CASE("EXR with unsupported channels or NaN/Inf pixels, and bad tensors to write") {
  TempDir dir("steady_test_data");
  write_raw_exr(dir / "z.exr", {"Z"}, 2, 2, {1, 2, 3, 4});
  check_error_names([&] { read_image(dir / "z.exr"); }, dir / "z.exr", "Z");
  write_raw_exr(dir / "rg.exr", {"R", "G"}, 2, 1, {1, 2, 3, 4});
  check_error_names([&] { read_image(dir / "rg.exr"); }, dir / "rg.exr", "not Y, RGB or RGBA");
  const float nan = std::numeric_limits<float>::quiet_NaN();
  write_raw_exr(dir / "nan.exr", {"Y"}, 2, 2, {1, 2, nan, 4});
  check_error_names([&] { read_image(dir / "nan.exr"); }, dir / "nan.exr", "contains NaN");
  write_raw_exr(dir / "inf.exr", {"Y"}, 2, 2, {1, std::numeric_limits<float>::infinity(), 3, 4});
  check_error_names([&] { read_image(dir / "inf.exr"); }, dir / "inf.exr", "Inf");

  check_error_names([&] { write_exr(dir / "two.exr", Tensor::zeros({2, 4, 4})); }, dir / "two.exr",
                    "2 channels");
  check_error_names([&] { write_png(dir / "flat.png", Tensor::zeros({4, 4})); }, dir / "flat.png");
  check_error_names([&] { write_exr(dir / "nan_out.exr", Tensor::full({1, 2, 2}, nan)); },
                    dir / "nan_out.exr", "NaN");
  check_error_names([&] { write_exr(dir / "no/such/folder/x.exr", Tensor::zeros({3, 2, 2})); },
                    dir / "no/such/folder/x.exr");
  check_error_names([&] { write_png(dir / "no/such/folder/x.png", Tensor::zeros({3, 2, 2})); },
                    dir / "no/such/folder/x.png");
  CHECK_THROWS_AS(read_image(dir / "y.exr", 2), Error);
}

TEST_CASE("image listing is natural-ordered and skips non-images") {
  TempDir dir("steady_test_data");
  for (const char* n : {"f10.exr", "f2.png", "f1.exr", "notes.txt", "f02b.jpg"}) write_bytes(dir / n, "x");
  fs::create_directories(dir.path / "sub.exr");
  std::vector<std::string> all = list_images(dir.path.string());
  std::vector<std::string> names;
  for (const std::string& p : all) names.push_back(fs::path(p).filename().string());
  CHECK(names == std::vector<std::string>({"f1.exr", "f2.png", "f02b.jpg", "f10.exr"}));
  CHECK(list_images(dir.path.string(), true).size() == 2);
  CHECK(natural_less("frame_9", "frame_10"));
  CHECK(!natural_less("frame_10", "frame_9"));
  CHECK(natural_less("a1", "a01"));
  CHECK(!natural_less("a01", "a1"));
  check_error_names([&] { list_images(dir / "missing"); }, dir / "missing");
}

// --------------------------------------------------------------------------------- camera

TEST_CASE("camera: curve anchored at 1, inverse, monotonic, clipped and 8-bit quantized") {
  for (double n : {0.7, 0.9, 1.2})
    for (double a : {0.3, 0.6, 1.0}) {
      CHECK(camera_curve(1.0, n, a) == doctest::Approx(1.0));
      for (double x : {0.01, 0.2, 0.5, 0.9})
        CHECK(camera_curve_inverse(camera_curve(x, n, a), n, a) == doctest::Approx(x).epsilon(1e-12));
    }
  // An HDR ramp far past the clip point.
  std::vector<float> ramp(400);
  for (size_t i = 0; i < ramp.size(); ++i) ramp[i] = 0.01f * static_cast<float>(i);
  Tensor hdr = Tensor::from_vector(ramp, {1, 20, 20});
  CameraParams p;
  p.exposure = 0.5;  // the clip point at ramp value 2
  p.n = 0.9;
  p.a = 0.6;
  std::vector<float> ldr = values(apply_camera(hdr, p));
  for (size_t i = 0; i < ldr.size(); ++i) {
    CHECK(ldr[i] >= 0.f);
    CHECK(ldr[i] <= 1.f);
    const float level = ldr[i] * 255.f;
    CHECK(std::abs(level - std::round(level)) < 1e-4f);
    if (i > 0) CHECK(ldr[i] >= ldr[i - 1]);
    // Against the formula, rounded to a level.
    const double expect = std::round(255.0 * std::min(1.0, camera_curve(0.5 * ramp[i], 0.9, 0.6))) / 255.0;
    CHECK(ldr[i] == doctest::Approx(expect).epsilon(1e-6));
    if (ramp[i] >= 2.0f) CHECK(ldr[i] == 1.f);
  }
  CHECK(ldr[50] < 1.f);  // ramp 0.5 is below the clip point
  p.bits = 4;
  for (float v : values(apply_camera(hdr, p))) CHECK(std::abs(v * 15.f - std::round(v * 15.f)) < 1e-5f);
}

TEST_CASE("camera: seeded draws, percentile exposure, one camera for a sequence, noise") {
  Tensor hdr = random_image(3, 40, 40, 5, 0.0, 10.0);
  Rng r1(42), r2(42), r3(43);
  CameraParams a = sample_camera(hdr, r1), b = sample_camera(hdr, r2), c = sample_camera(hdr, r3);
  CHECK(a.exposure == b.exposure);
  CHECK(a.n == b.n);
  CHECK(a.a == b.a);
  CHECK(a.exposure != c.exposure);
  CHECK(a.n >= 0.5);
  CHECK(a.n <= 1.5);
  CHECK(a.a >= 0.1);
  CHECK(a.noise_std == 0.0);  // noise is off by default

  // The percentile draw: the saturated share after exposure is 1 - p within one pixel.
  for (uint64_t seed = 0; seed < 5; ++seed) {
    Rng r(seed), rp(seed);
    CameraParams q = sample_camera(hdr, r);
    const double pct = rp.uniform(90.0, 99.0);  // the first draw, as documented
    Tensor exposed = Tensor::from_vector(values(hdr), hdr.shape());
    float* e = exposed.data<float>();
    for (int64_t i = 0; i < exposed.numel(); ++i) e[i] = static_cast<float>(e[i] * q.exposure);
    CHECK(saturated_share(exposed) == doctest::Approx(1.0 - pct / 100.0).epsilon(0.02 + 1.0 / 1600));
    CHECK(max_channel_percentile(hdr, pct) == doctest::Approx(1.0 / q.exposure));
  }
  // Fixed exposure, and one camera for a sequence (pooled percentile).
  CameraRanges fixed;
  fixed.use_percentile = false;
  fixed.fixed_exposure = 2.5;
  Rng rf(1);
  CHECK(sample_camera(hdr, rf, fixed).exposure == 2.5);
  std::vector<Tensor> seq = {hdr, random_image(3, 40, 40, 6, 0.0, 10.0)};
  Rng rs(3);
  CameraParams sp = sample_camera(seq, rs);
  CHECK(sp.exposure > 0);

  // Noise: drawn from the generator given, reproducible, and required.
  CameraParams noisy = a;
  noisy.noise_std = 0.01;
  CHECK_THROWS_AS(apply_camera(hdr, noisy), Error);
  Rng n1(8), n2(8);
  CHECK(same_bits(apply_camera(hdr, noisy, &n1), apply_camera(hdr, noisy, &n2)));
  CHECK(!same_bits(apply_camera(hdr, noisy, &n1), apply_camera(hdr, a)));
}

TEST_CASE("saturation mask: max(0, max_c x - 0.95) / 0.05, clamped to 1, per pixel") {
  // Pixels (max channel): 0.5, 0.95, 0.975, 0.99, 1.0, 3.0
  Tensor x = Tensor::from_vector(std::vector<float>{0.5f, 0.1f, 0.975f, 0.2f, 1.0f, 3.0f,    // R
                                  0.1f, 0.95f, 0.f, 0.99f, 0.f, 0.f,       // G
                                  0.f, 0.f, 0.f, 0.f, 0.f, 0.f},           // B
                                 {3, 2, 3});
  Tensor m = saturation_mask(x);
  CHECK(m.shape() == Shape({1, 2, 3}));
  std::vector<float> v = values(m);
  const double expect[6] = {0.0, 0.0, 0.5, 0.8, 1.0, 1.0};
  for (int i = 0; i < 6; ++i) CHECK(v[i] == doctest::Approx(expect[i]).epsilon(1e-5));
  Tensor batch = Tensor::zeros({2, 3, 2, 3});
  batch.view(18, {3, 2, 3}).copy_from(x);
  std::vector<float> bv = values(saturation_mask(batch));
  CHECK(saturation_mask(batch).shape() == Shape({2, 1, 2, 3}));
  for (int i = 0; i < 6; ++i) {
    CHECK(bv[i] == 0.f);
    CHECK(bv[6 + i] == doctest::Approx(expect[i]).epsilon(1e-5));
  }
  CHECK(values(saturation_mask(x, 0.5))[0] == doctest::Approx(0.0));
  CHECK(values(saturation_mask(x, 0.5))[2] == doctest::Approx(0.95));
}

// ---------------------------------------------------------------------------- gen_procedural

TEST_CASE("gen_procedural: same seed same bytes, another seed other bytes") {
  TempDir dir("steady_test_data");
  const std::vector<std::string> common = {"--train", "3", "--test-seqs", "1", "--frames", "4",
                                           "--size", "32"};
  auto run = [&](const std::string& out, const std::string& seed, bool multipart) {
    std::vector<std::string> args = common;
    args.insert(args.begin(), out);
    args.insert(args.end(), {"--seed", seed});
    if (multipart) args.push_back("--multipart");
    REQUIRE(gen(args) == 0);
  };
  run(dir / "a", "7", false);
  run(dir / "b", "7", false);
  run(dir / "c", "8", false);
  run(dir / "m", "7", true);
  const std::vector<std::string> files = files_under(dir.path / "a");
  CHECK(files == files_under(dir.path / "b"));
  CHECK(std::count(files.begin(), files.end(), "train/00002.exr") == 1);
  CHECK(std::count(files.begin(), files.end(), "test/seq_000/frame_0003.exr") == 1);
  CHECK(std::count(files.begin(), files.end(), "test/seq_000/flow/flow_0003.exr") == 1);
  for (const std::string& f : files) {
    CAPTURE(f);
    CHECK(bytes_of((dir.path / "a" / f).string()) == bytes_of((dir.path / "b" / f).string()));
  }
  for (const char* f : {"train/00000.exr", "train/00002.exr", "test/seq_000/frame_0001.exr"})
    CHECK(bytes_of((dir.path / "a" / f).string()) != bytes_of((dir.path / "c" / f).string()));
  // Item i does not depend on how many items are made.
  REQUIRE(gen({dir / "d", "--train", "1", "--test-seqs", "0", "--size", "32", "--seed", "7"}) == 0);
  CHECK(bytes_of(dir / "d/train/00000.exr") == bytes_of(dir / "a/train/00000.exr"));
  // The multi-part form holds the same frames and motion.
  Sequence folder = read_sequence(dir / "a/test/seq_000");
  Sequence multi = read_sequence(dir / "m/test/seq_000.exr");
  REQUIRE(folder.frames.size() == 4);
  REQUIRE(multi.frames.size() == 4);
  REQUIRE(folder.flow.size() == 4);
  REQUIRE(multi.flow.size() == 4);
  for (int t = 0; t < 4; ++t) {
    CHECK(same_bits(folder.frames[t], multi.frames[t]));
    CHECK(same_bits(folder.flow[t], multi.flow[t]));
  }
  CHECK(folder.fps == doctest::Approx(25.0));
  CHECK(multi.fps == doctest::Approx(25.0));
}

TEST_CASE("gen_procedural: saturated share inside --sat-min..--sat-max, in float and half") {
  TempDir dir("steady_test_data");
  for (bool half_files : {false, true}) {
    CAPTURE(half_files);
    const std::string out = dir / (half_files ? "h" : "f");
    std::vector<std::string> args = {out, "--train", "6", "--test-seqs", "2", "--frames", "5",
                                     "--size", "40", "--sat-min", "0.05", "--sat-max", "15%"};
    if (half_files) args.push_back("--half");
    REQUIRE(gen(args) == 0);
    for (const std::string& path : list_images(out + "/train")) {
      const double share = saturated_share(read_image(path));
      CAPTURE(path);
      CHECK(share >= 0.05);
      CHECK(share <= 0.15);
    }
    for (const char* seq : {"/test/seq_000", "/test/seq_001"}) {
      Sequence s = read_sequence(out + seq);
      int64_t sat = 0, all = 0;
      for (const Tensor& f : s.frames) {
        sat += std::llround(saturated_share(f) * 1600);
        all += 1600;
      }
      const double share = static_cast<double>(sat) / static_cast<double>(all);
      CHECK(share >= 0.05);
      CHECK(share <= 0.15);
    }
  }
  // The library draws the same: its share agrees with the one it reports.
  ProceduralOptions opt;
  opt.size = 24;
  ProceduralSequence seq = procedural_sequence(3, 0, 3, opt);
  int64_t sat = 0;
  for (const Tensor& f : seq.frames) sat += std::llround(saturated_share(f) * 576);
  CHECK(static_cast<double>(sat) / (3 * 576) == doctest::Approx(seq.saturated_share));
  CHECK(seq.saturated_share == doctest::Approx(seq.target_share).epsilon(0.02));
}

TEST_CASE("gen_procedural: the stored motion explains the frames") {
  ProceduralOptions opt;
  opt.size = 48;
  opt.beam_probability = 1.0;
  ProceduralSequence seq = procedural_sequence(11, 2, 10, opt);
  REQUIRE(seq.flow.size() == 10);
  for (float v : values(seq.flow[0])) CHECK(v == 0.f);
  // In the log domain (where bright and dark content weigh alike) the true motion must warp
  // frame t-1 onto frame t far better than no motion, the reversed motion or a motion off by
  // 0.3 px, and better than an exaggerated one. Bilinear sampling of smooth content leaves a
  // small residue, so the truth is not exactly 0.
  std::vector<Tensor> logs;
  for (const Tensor& f : seq.frames) logs.push_back(hdr_log(f));
  const WarpingError truth = warping_error(logs, seq.flow);
  CHECK(truth.frames == 9);
  CHECK(truth.valid_share > 0.5);
  CHECK(truth.valid_share < 1.0);  // edges, glows and occlusions are left out
  test::check_true_motion_wins(logs, seq.flow, truth.error, 0.5, false);
  CHECK(truth.error < warping_error(logs, test::altered_flow(seq.flow, 1.5, 0, 0, false)).error);
  // Displacements are smooth motions of a few pixels per frame at most.
  for (size_t t = 1; t < seq.flow.size(); ++t) {
    std::vector<float> f = values(seq.flow[t]);
    for (size_t i = 0; i < 2 * 48 * 48; ++i) CHECK(std::abs(f[i]) < 4.f);
  }
}

TEST_CASE("gen_procedural: usage errors are one clear line and exit code 1") {
  TempDir dir("steady_test_data");
  CHECK(gen({dir / "x", "--size", "4"}) == 1);
  CHECK(gen({dir / "x", "--sat-min", "0.2", "--sat-max", "0.1"}) == 1);
  CHECK(gen({dir / "x", "--bogus", "1"}) == 1);
  CHECK(gen({dir / "x", "--train", "0", "--test-seqs", "0"}) == 1);
  CHECK(gen({dir / "x", "--test-seqs", "1", "--frames", "1", "--train", "0"}) == 1);
  CHECK(gen({}) == 1);
  write_bytes(dir / "file", "x");
  CHECK(gen({dir / "file", "--train", "1", "--test-seqs", "0", "--size", "16"}) == 1);
}

// ------------------------------------------------------------------------------- sequences

TEST_CASE("a folder, a printf pattern and a multi-part EXR give the same frames") {
  TempDir dir("steady_test_data");
  std::vector<Tensor> frames;
  for (int t = 0; t < 5; ++t) frames.push_back(random_image(3, 8, 12, 50 + t, 0.0, 3.0));
  fs::create_directories(dir.path / "folder");
  ExrWriteOptions opt;
  opt.fps = 30;
  for (int t = 0; t < 5; ++t) {
    char name[32];
    std::snprintf(name, sizeof(name), "seq_%04d.exr", t + 1);  // numbered from 1
    write_exr((dir.path / "folder" / name).string(), frames[t], opt);
  }
  write_bytes(dir / "folder/notes.txt", "not a frame");
  write_exr_multipart(dir / "multi.exr", frames, opt);

  CHECK(sequence_kind(dir / "folder") == SequenceKind::Folder);
  CHECK(sequence_kind(dir / "folder/seq_%04d.exr") == SequenceKind::Pattern);
  CHECK(sequence_kind(dir / "multi.exr") == SequenceKind::MultipartExr);
  for (const std::string& spec : {dir / "folder", dir / "folder/seq_%04d.exr", dir / "multi.exr"}) {
    CAPTURE(spec);
    Sequence s = read_sequence(spec);
    REQUIRE(s.frames.size() == 5);
    for (int t = 0; t < 5; ++t) CHECK(same_bits(frames[t], s.frames[t]));
    CHECK(s.fps == doctest::Approx(30.0));
    CHECK(s.flow.empty());
    SequenceReadOptions gray;
    gray.channels = 1;
    CHECK(read_sequence(spec, gray).frames[0].shape() == Shape({1, 8, 12}));
  }
  // PNG frames have no fps.
  fs::create_directories(dir.path / "png");
  write_png(dir / "png/a_1.png", Tensor::zeros({3, 4, 4}));
  write_png(dir / "png/a_2.png", Tensor::zeros({3, 4, 4}));
  CHECK(read_sequence(dir / "png/a_%d.png").fps == 0.0);
}

TEST_CASE("sequence errors: gaps, mixed sizes, empty folders, video files, missing paths") {
  TempDir dir("steady_test_data");
  fs::create_directories(dir.path / "gap");
  for (int t : {0, 1, 3}) write_png(dir / ("gap/f_" + std::to_string(t) + ".png"), Tensor::zeros({1, 2, 2}));
  check_error_names([&] { read_sequence(dir / "gap/f_%d.png"); }, dir / "gap/f_%d.png",
                    "frame 2 is missing");
  fs::create_directories(dir.path / "mixed");
  write_png(dir / "mixed/a.png", Tensor::zeros({1, 2, 2}));
  write_png(dir / "mixed/b.png", Tensor::zeros({1, 3, 2}));
  check_error_names([&] { read_sequence(dir / "mixed"); }, dir / "mixed", "b.png");
  fs::create_directories(dir.path / "empty");
  check_error_names([&] { read_sequence(dir / "empty"); }, dir / "empty", "no image files");
  write_bytes(dir / "clip.mp4", "not really a video");
  check_error_names([&] { read_sequence(dir / "clip.mp4"); }, dir / "clip.mp4", "video");
  check_error_names([&] { read_sequence(dir / "missing"); }, dir / "missing", "no such");
  check_error_names([&] { read_sequence(dir / "nothing/x_%03d.exr"); }, dir / "nothing/x_%03d.exr");
  // A width-padded pattern does not match unpadded names.
  CHECK_THROWS_AS(read_sequence(dir / "gap/f_%03d.png"), Error);
}

TEST_CASE("Radiance HDR: a run-length encoded file reads; a cut or zero-run one fails at once") {
  // 64x32, every scanline RLE: per component one run of 64 of the value 100, exponent 128.
  TempDir dir("steady_rgbe");
  const int w = 64, h = 32;
  std::string bytes = "#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 32 +X 64\n";
  const size_t header = bytes.size();
  for (int y = 0; y < h; ++y) {
    bytes += std::string{2, 2, 0, static_cast<char>(w)};
    for (int c = 0; c < 4; ++c) bytes += std::string{static_cast<char>(128 + w), static_cast<char>(c == 3 ? 128 : 100)};
  }
  auto write = [&](const std::string& name, const std::string& b) {
    std::ofstream(dir / name, std::ios::binary) << b;
    return dir / name;
  };
  const Tensor img = read_image(write("full.hdr", bytes));
  CHECK(img.shape() == Shape{3, h, w});
  CHECK(img.to_host()[0] == doctest::Approx(100.0 / 256.0));  // RGBE: 100 * 2^(128 - 136)
  for (size_t cut : {header + 3, header + 100, bytes.size() - 1}) {
    CAPTURE(cut);
    const std::string path = write("cut.hdr", bytes.substr(0, cut));
    CHECK_THROWS_WITH_AS(read_image(path), doctest::Contains("truncated Radiance HDR"), Error);
  }
  std::string zero_run = bytes;
  zero_run[header + 4] = 0;  // a literal run of 0 bytes never advances
  CHECK_THROWS_WITH_AS(read_image(write("zero.hdr", zero_run)), doctest::Contains("bad run length"), Error);
}

TEST_CASE("images: only EXR, HDR, PNG and JPEG decode; a TGA header named .png is refused") {
  TempDir dir("steady_magic");
  // A valid 25-byte TGA header that stb's TGA decoder took for an 8262x18028 image.
  const unsigned char tga[25] = {0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x46, 0x20, 0x6c, 0x46, 24, 0};
  std::ofstream(dir / "tiny.png", std::ios::binary).write(reinterpret_cast<const char*>(tga), 25);
  CHECK_THROWS_WITH_AS(read_image(dir / "tiny.png"), doctest::Contains("not an image this program can read"), Error);
  std::ofstream(dir / "b.jpg", std::ios::binary) << "BM" << std::string(60, '\1');  // BMP magic
  CHECK_THROWS_WITH_AS(read_image(dir / "b.jpg"), doctest::Contains("not an image this program can read"), Error);
}

TEST_CASE("images: decoded size is held to a budget before decoding") {
  TempDir dir("steady_budget");
  // A PNG header alone is enough for stbi_info: 16000 x 16000 RGB declares
  // 3 GB of float32, over the default 1024 MB budget.
  auto be32 = [](uint32_t v) {
    return std::string{static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
  };
  std::string png = "\x89PNG\r\n\x1a\n";
  png += be32(13) + "IHDR" + be32(16000) + be32(16000) + std::string{8, 2, 0, 0, 0} + be32(0);
  png += be32(0) + "IEND" + be32(0xAE426082u);
  std::ofstream(dir / "huge.png", std::ios::binary) << png;
  CHECK_THROWS_WITH_AS(read_image(dir / "huge.png"), doctest::Contains("MB budget"), Error);
}

TEST_CASE("images: a JPEG whose Huffman table is not a prefix code is refused before decoding") {
  TempDir dir("steady_dht");
  std::vector<unsigned char> px(16 * 16 * 3, 90);
  REQUIRE(stbi_write_jpg((dir / "good.jpg").c_str(), 16, 16, 3, px.data(), 90));
  std::string jpg = bytes_of(dir / "good.jpg");
  CHECK_NOTHROW(read_image(dir / "good.jpg"));
  const size_t dht = jpg.find("\xFF\xC4");
  REQUIRE(dht != std::string::npos);
  // Three codes of length 1 (only two exist): stb_image would build its tables out of bounds.
  std::string bad = jpg;
  bad[dht + 5] = 3;
  write_bytes(dir / "bad_dht.jpg", bad);
  CHECK_THROWS_WITH_AS(read_image(dir / "bad_dht.jpg"), doctest::Contains("bad Huffman table"), Error);
  // More than 256 symbols.
  bad = jpg;
  for (int l = 0; l < 16; ++l) bad[dht + 5 + static_cast<size_t>(l)] = l == 15 ? static_cast<char>(255) : 0;
  bad[dht + 5 + 14] = 2;
  write_bytes(dir / "many.jpg", bad);
  CHECK_THROWS_WITH_AS(read_image(dir / "many.jpg"), doctest::Contains("bad Huffman table"), Error);
  // A Huffman segment that claims more bytes than the file holds (found by fuzz_jpg): stb_image
  // reads the missing bytes as zeros and built its tables from a table this check skipped.
  bad = jpg.substr(0, dht + 4 + 17 + 4);
  bad[dht + 5] = 3;  // the overlong table, cut
  bad += "\xFF\xDA\xFF\xD9";
  write_bytes(dir / "cut_dht.jpg", bad);
  CHECK_THROWS_WITH_AS(read_image(dir / "cut_dht.jpg"), doctest::Contains("a segment runs past the end"), Error);
  // A bad table after the scan, and one behind padding bytes between segments: stb_image reads
  // both (found by fuzz_jpg).
  const size_t eoi = jpg.rfind("\xFF\xD9");
  REQUIRE(eoi != std::string::npos);
  std::string table = "\xFF\xC4" + std::string("\x00\x14\x00\x03", 4) + std::string(15, '\0') + "\x01";
  bad = jpg.substr(0, eoi) + table + jpg.substr(eoi);
  write_bytes(dir / "late_dht.jpg", bad);
  CHECK_THROWS_WITH_AS(read_image(dir / "late_dht.jpg"), doctest::Contains("bad Huffman table"), Error);
  bad = jpg.substr(0, dht) + "\x12\x34" + table + jpg.substr(dht);
  write_bytes(dir / "padded_dht.jpg", bad);
  CHECK_THROWS_WITH_AS(read_image(dir / "padded_dht.jpg"), doctest::Contains("bad Huffman table"), Error);
}

TEST_CASE("images: a chunk or attribute that declares more bytes than the file holds is refused") {
  // Found by fuzz_png and fuzz_exr: stb_image allocated an IDAT chunk's declared length (2 GB)
  // and OpenEXR a string attribute's, before finding the bytes missing.
  TempDir dir("steady_declared");
  std::vector<float> v(3 * 4 * 4, 0.5f);
  const Tensor img = Tensor::from_vector(v, {3, 4, 4});
  write_png(dir / "a.png", img);
  std::string png = bytes_of(dir / "a.png");
  const size_t idat = png.find("IDAT");
  REQUIRE(idat != std::string::npos);
  png.replace(idat - 4, 4, std::string("\x7f\xff\xff\xf0", 4));
  write_bytes(dir / "long_idat.png", png);
  CHECK_THROWS_WITH_AS(read_image(dir / "long_idat.png"), doctest::Contains("a chunk runs past the end"), Error);

  write_exr(dir / "a.exr", img);
  const std::string exr = bytes_of(dir / "a.exr");
  // A string attribute first in the header that declares 2 GB.
  const std::string comments = std::string("comments\0string\0", 16) + std::string("\xf0\xff\xff\x7f", 4) + "x";
  write_bytes(dir / "long_attr.exr", exr.substr(0, 8) + comments + exr.substr(8));
  CHECK_THROWS_WITH_AS(read_image(dir / "long_attr.exr"),
                       doctest::Contains("attribute 'comments' declares 2147483632 bytes"), Error);
  CHECK_THROWS_WITH_AS(exr_part_count(dir / "long_attr.exr"), doctest::Contains("corrupt header"), Error);
  // A fixed-size value whose header states another size: OpenEXR reads it by its type, and so
  // does the walk, which then finds the string attribute behind it (found by fuzz_exr).
  std::string lying = exr;
  const std::string order = std::string("lineOrder\0lineOrder\0", 20);
  const size_t at = lying.find(order);
  REQUIRE(at != std::string::npos);
  lying.replace(at + order.size(), 4, std::string("\x05\x00\x00\x00", 4));
  lying.insert(at + order.size() + 4 + 1, comments);
  write_bytes(dir / "lying_size.exr", lying);
  // A preview of 2^32-1 x 2^32-1 pixels: the size check itself must not overflow (fuzz_exr, UBSan).
  const std::string preview = std::string("preview\0preview\0", 16) + std::string("\x08\0\0\0", 4) +
                              std::string(8, '\xff');
  write_bytes(dir / "huge_preview.exr", exr.substr(0, 8) + preview + exr.substr(8));
  CHECK_THROWS_WITH_AS(read_image(dir / "huge_preview.exr"), doctest::Contains("preview, more than the file holds"), Error);
  CHECK_THROWS_WITH_AS(read_image(dir / "lying_size.exr"),
                       doctest::Contains("attribute 'comments' declares 2147483632 bytes"), Error);
  CHECK_NOTHROW(read_image(dir / "a.exr"));
}

TEST_CASE("images: a PNG with an empty IDAT chunk first decodes as without it") {
  // stb_image copied it into a buffer it had not allocated yet (found by fuzz_png under UBSan).
  TempDir dir("steady_idat");
  std::vector<float> v(3 * 5 * 4);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i % 7) / 7.f;
  const Tensor img = Tensor::from_vector(v, {3, 5, 4});
  write_png((dir / "plain.png"), img);
  std::string png = bytes_of(dir / "plain.png");
  const size_t idat = png.find("IDAT");
  REQUIRE(idat != std::string::npos);
  const std::string empty_idat = std::string("\0\0\0\0IDAT", 8) + "\x35\xAF\x06\x1E";
  write_bytes(dir / "empty_idat.png", png.substr(0, idat - 4) + empty_idat + png.substr(idat - 4));
  CHECK(read_image((dir / "empty_idat.png")).to_host() ==
        read_image((dir / "plain.png")).to_host());
}
