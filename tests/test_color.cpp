// Color science (data/color.h): sRGB <-> linear <-> XYZ <-> CIE Lab against published reference
// values, round trips, the tensor forms ([3,H,W], [N,3,H,W], float and double) against the
// per-value functions, and the colorization network tensors (L/50 - 1, ab/110) and back.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "data/color.h"
#include "engine/rng.h"

using namespace steady;

namespace {

void check_lab(const double srgb[3], double L, double a, double b, double tol) {
  double lab[3];
  srgb_to_lab(srgb, lab);
  CAPTURE(srgb[0]);
  CAPTURE(srgb[1]);
  CAPTURE(srgb[2]);
  CHECK(std::fabs(lab[0] - L) <= tol);
  CHECK(std::fabs(lab[1] - a) <= tol);
  CHECK(std::fabs(lab[2] - b) <= tol);
}

Tensor random_srgb(const Shape& shape, uint64_t seed, DType dt) {
  Rng rng(seed);
  std::vector<double> v(static_cast<size_t>(shape_numel(shape)));
  for (double& x : v) x = rng.uniform();
  return Tensor::from_vector(v, shape, Device::CPU, dt);
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  std::vector<double> x = a.to_host(), y = b.to_host();
  double m = 0;
  for (size_t i = 0; i < x.size(); ++i) m = std::max(m, std::fabs(x[i] - y[i]));
  return m;
}

}  // namespace

TEST_CASE("sRGB transfer: the IEC 61966-2-1 curve, continuous at the knee, inverse of each other") {
  CHECK(srgb_to_linear(0.0) == 0.0);
  CHECK(srgb_to_linear(1.0) == doctest::Approx(1.0).epsilon(1e-15));
  CHECK(srgb_to_linear(0.04045) == doctest::Approx(0.04045 / 12.92).epsilon(1e-12));
  // The two branches meet at the knee to ~1e-8 (the standard's rounded constants).
  CHECK(std::fabs(std::pow((0.04045 + 0.055) / 1.055, 2.4) - 0.04045 / 12.92) < 1e-7);
  CHECK(srgb_to_linear(0.5) == doctest::Approx(0.21404114048223255).epsilon(1e-12));
  CHECK(linear_to_srgb(0.18) == doctest::Approx(0.46135612950044164).epsilon(1e-12));
  for (double v = -0.2; v <= 1.2; v += 0.01) {
    CAPTURE(v);
    CHECK(linear_to_srgb(srgb_to_linear(v)) == doctest::Approx(v).epsilon(1e-12).scale(1));
  }
  // Monotonic.
  double prev = -1;
  for (double v = 0; v <= 1.0; v += 1.0 / 1024) {
    const double l = srgb_to_linear(v);
    CHECK(l > prev);
    prev = l;
  }
}

TEST_CASE("sRGB -> Lab matches published reference values") {
  // Reference: Bruce Lindbloom's CIE Color Calculator (brucelindbloom.com/ColorCalculator.html),
  // sRGB, reference white D65, no chromatic adaptation; the same values are used by e.g.
  // Boost.GIL's color_convert tests. Mid grey is #808080 (128/255).
  const double white[3] = {1, 1, 1}, black[3] = {0, 0, 0};
  const double red[3] = {1, 0, 0}, green[3] = {0, 1, 0}, blue[3] = {0, 0, 1};
  const double yellow[3] = {1, 1, 0};
  const double grey[3] = {128.0 / 255, 128.0 / 255, 128.0 / 255};
  check_lab(white, 100.0, 0.0, 0.0, 1e-4);
  check_lab(black, 0.0, 0.0, 0.0, 1e-12);
  check_lab(red, 53.2408, 80.0925, 67.2032, 1e-3);
  check_lab(green, 87.7347, -86.1827, 83.1793, 1e-3);
  check_lab(blue, 32.2970, 79.1875, -107.8602, 1e-3);
  check_lab(yellow, 97.1393, -21.5537, 94.4780, 1e-3);
  check_lab(grey, 53.5850, 0.0, 0.0, 1e-3);
  // The matrix's white: D65 (0.95047, 1, 1.08883) to Lindbloom's digits.
  double w[3];
  d65_white(w);
  CHECK(w[0] == doctest::Approx(0.95047).epsilon(1e-6));
  CHECK(w[1] == doctest::Approx(1.0).epsilon(1e-6));
  CHECK(w[2] == doctest::Approx(1.08883).epsilon(1e-6));
  // Linear red -> XYZ is the matrix's first column.
  double xyz[3];
  const double lin_red[3] = {1, 0, 0};
  linear_to_xyz(lin_red, xyz);
  CHECK(xyz[0] == doctest::Approx(0.4124564));
  CHECK(xyz[1] == doctest::Approx(0.2126729));
  CHECK(xyz[2] == doctest::Approx(0.0193339));
}

TEST_CASE("Lab: both branches of f, and the dark linear segment, invert exactly") {
  // Dark colours (Y/Yn < 216/24389) take the linear branch; L = kappa * Y there.
  const double dark[3] = {0.004, 0.004, 0.004};  // below the sRGB knee too
  double lab[3];
  srgb_to_lab(dark, lab);
  const double y = 0.004 / 12.92;  // Y / Yn: grey has Y = Yn times its linear value
  CHECK(lab[0] == doctest::Approx(24389.0 / 27.0 * y).epsilon(1e-12));
  CHECK(std::fabs(lab[1]) < 1e-9);
  CHECK(std::fabs(lab[2]) < 1e-9);
  // XYZ -> Lab -> XYZ across the epsilon boundary.
  for (double t : {1e-4, 0.005, 216.0 / 24389.0, 0.009, 0.2, 0.9}) {
    const double xyz[3] = {t * 0.9, t, t * 1.1};
    double l[3], back[3];
    xyz_to_lab(xyz, l);
    lab_to_xyz(l, back);
    for (int c = 0; c < 3; ++c) CHECK(back[c] == doctest::Approx(xyz[c]).epsilon(1e-12));
  }
}

TEST_CASE("round trip sRGB -> Lab -> sRGB within 1e-4 on random colours (per value and tensors)") {
  Rng rng(7);
  double worst = 0;
  for (int i = 0; i < 20000; ++i) {
    const double c[3] = {rng.uniform(), rng.uniform(), rng.uniform()};
    double lab[3], back[3];
    srgb_to_lab(c, lab);
    lab_to_srgb(lab, back);
    for (int k = 0; k < 3; ++k) worst = std::max(worst, std::fabs(back[k] - c[k]));
    // Lab of in-gamut colours stays in the usual ranges.
    CHECK(lab[0] >= -1e-9);
    CHECK(lab[0] <= 100.0 + 1e-6);
    CHECK(std::fabs(lab[1]) < 110.0);
    CHECK(std::fabs(lab[2]) < 110.0);
  }
  CHECK(worst < 1e-10);
  for (DType dt : {DType::F64, DType::F32}) {
    const Tensor img = random_srgb({3, 17, 23}, 3, dt);
    const Tensor back = lab_to_srgb(srgb_to_lab(img));
    CHECK(back.dtype() == dt);
    CHECK(max_abs_diff(back, img) < (dt == DType::F64 ? 1e-10 : 1e-4));
    // The chain through the separate stages is the same conversion.
    const Tensor lab2 = xyz_to_lab(linear_to_xyz(srgb_to_linear(img)));
    CHECK(max_abs_diff(lab2, srgb_to_lab(img)) < (dt == DType::F64 ? 1e-12 : 1e-4));
    const Tensor back2 = linear_to_srgb(xyz_to_linear(lab_to_xyz(lab2)));
    CHECK(max_abs_diff(back2, img) < (dt == DType::F64 ? 1e-10 : 1e-4));
  }
}

TEST_CASE("tensor conversions equal the per-value functions, batched or not") {
  const Tensor batch = random_srgb({2, 3, 5, 4}, 11, DType::F64);
  const Tensor lab = srgb_to_lab(batch);
  REQUIRE(lab.shape() == Shape({2, 3, 5, 4}));
  std::vector<double> in = batch.to_host(), out = lab.to_host();
  const int64_t plane = 20;
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t k = 0; k < plane; ++k) {
      const double c[3] = {in[(n * 3 + 0) * plane + k], in[(n * 3 + 1) * plane + k],
                           in[(n * 3 + 2) * plane + k]};
      double ref[3];
      srgb_to_lab(c, ref);
      for (int ch = 0; ch < 3; ++ch) CHECK(out[(n * 3 + ch) * plane + k] == ref[ch]);
    }
  // Frame 1 of the batch alone gives the same values.
  const Tensor one = srgb_to_lab(batch.view(3 * plane, {3, 5, 4}));
  CHECK(max_abs_diff(one, lab.view(3 * plane, {3, 5, 4})) == 0.0);
  CHECK_THROWS_AS(srgb_to_lab(Tensor::zeros({4, 2, 2})), Error);
  CHECK_THROWS_AS(srgb_to_lab(Tensor::zeros({3, 2})), Error);
  CHECK_THROWS_AS(lab_to_srgb(Tensor::zeros({1, 2, 2, 2})), Error);
}

TEST_CASE("colorization tensors: L/50 - 1 and ab/110, and back to sRGB") {
  for (DType dt : {DType::F64, DType::F32}) {
    const Tensor img = random_srgb({2, 3, 6, 7}, 5, dt);
    const ColorizationPair p = colorization_pair(img);
    REQUIRE(p.input.shape() == Shape({2, 1, 6, 7}));
    REQUIRE(p.target.shape() == Shape({2, 2, 6, 7}));
    CHECK(p.input.dtype() == dt);
    CHECK(max_abs_diff(p.input, colorization_input(img)) == 0.0);
    CHECK(max_abs_diff(p.target, colorization_target(img)) == 0.0);
    std::vector<double> lab = srgb_to_lab(img.to(DType::F64)).to_host();
    std::vector<double> in = p.input.to_host(), tg = p.target.to_host();
    const double tol = dt == DType::F64 ? 1e-12 : 1e-6;
    for (int64_t n = 0; n < 2; ++n)
      for (int64_t k = 0; k < 42; ++k) {
        CHECK(std::fabs(in[n * 42 + k] - (lab[(n * 3) * 42 + k] / 50.0 - 1.0)) < tol);
        CHECK(std::fabs(tg[(n * 2) * 42 + k] - lab[(n * 3 + 1) * 42 + k] / 110.0) < tol);
        CHECK(std::fabs(tg[(n * 2 + 1) * 42 + k] - lab[(n * 3 + 2) * 42 + k] / 110.0) < tol);
        CHECK(in[n * 42 + k] >= -1.0 - 1e-6);
        CHECK(in[n * 42 + k] <= 1.0 + 1e-6);
      }
    // The true ab gives the image back; zero ab gives its grayscale version.
    const Tensor back = colorization_to_srgb(p.input, p.target);
    CHECK(max_abs_diff(back, img) < (dt == DType::F64 ? 1e-10 : 1e-4));
    const Tensor grey = colorization_to_srgb(p.input, Tensor::zeros(p.target.shape(), Device::CPU, dt));
    CHECK(max_abs_diff(grey, grayscale_srgb(img)) < 1e-5);
  }
  // A grey image has ab = 0 and keeps its L; a 1-channel image reads as grey.
  const Tensor g3 = Tensor::full({3, 2, 2}, 0.3, Device::CPU, DType::F64);
  const Tensor g1 = Tensor::full({1, 2, 2}, 0.3, Device::CPU, DType::F64);
  for (double v : colorization_target(g3).to_host()) CHECK(std::fabs(v) < 1e-6);
  CHECK(max_abs_diff(colorization_input(g1), colorization_input(g3)) == 0.0);
  // Out-of-gamut predictions are clamped to displayable values.
  Tensor l = Tensor::full({1, 1, 1}, 0.0, Device::CPU, DType::F64);
  Tensor ab = Tensor::full({2, 1, 1}, 1.0, Device::CPU, DType::F64);
  for (double v : colorization_to_srgb(l, ab).to_host()) {
    CHECK(v >= 0.0);
    CHECK(v <= 1.0);
  }
  CHECK_THROWS_AS(colorization_to_srgb(Tensor::zeros({1, 2, 2}), Tensor::zeros({2, 3, 2})), Error);
  CHECK_THROWS_AS(colorization_to_srgb(Tensor::zeros({2, 2, 2}), Tensor::zeros({2, 2, 2})), Error);
}

TEST_CASE("grayscale: L only, neutral (R = G = B), same L as the colour image") {
  const Tensor img = random_srgb({3, 9, 8}, 21, DType::F64);
  const Tensor grey = grayscale_srgb(img);
  std::vector<double> g = grey.to_host();
  for (int64_t k = 0; k < 72; ++k) {
    CHECK(g[k] == g[72 + k]);
    CHECK(g[k] == g[144 + k]);
  }
  CHECK(max_abs_diff(lab_lightness(grey), lab_lightness(img)) < 1e-9);
  CHECK(max_abs_diff(colorization_input(grey), colorization_input(img)) < 1e-9);
  for (double v : colorization_target(grey).to_host()) CHECK(std::fabs(v) < 1e-9);
  // Lightness of white and black.
  std::vector<double> wl = lab_lightness(Tensor::full({3, 1, 2}, 1.0, Device::CPU, DType::F64)).to_host();
  for (double v : wl) CHECK(v == doctest::Approx(100.0).epsilon(1e-6));
  // A clip: one [1,H,W] network input per frame.
  std::vector<Tensor> clip = {random_srgb({3, 4, 5}, 1, DType::F32), random_srgb({3, 4, 5}, 2, DType::F32)};
  std::vector<Tensor> in = grayscale_clip(clip);
  REQUIRE(in.size() == 2);
  CHECK(in[1].shape() == Shape({1, 4, 5}));
  CHECK(max_abs_diff(in[1], colorization_input(clip[1])) == 0.0);
}
