// The transforms and the warp on the CPU: Table 1 matrices against golden float64 values and
// hand-worked cases, the sampler's ranges, the warp and its adjoint against golden values, exact
// identities and shifts, a naive implementation written differently (hat functions summed over
// every input pixel, no floor), the adjoint identity <W u, v> = <u, W^T v>, and the valid mask.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <string>
#include <vector>

#include "engine/backend.h"
#include "engine/rng.h"
#include "kernels/warp_math.h"
#include "losses/transform.h"
#include "warp_reference.h"

using namespace steady;

namespace {

nlohmann::json load_json(const char* name) {
  std::ifstream in(std::string(STEADY_TEST_DATA) + "/" + name);
  REQUIRE_MESSAGE(in.good(), "cannot open ", name);
  return nlohmann::json::parse(in);
}

constexpr double kDeg = 3.14159265358979323846 / 180.0;

Tensor random_tensor(const Shape& shape, Rng& rng, DType dtype, double lo = -1, double hi = 1) {
  std::vector<double> v(shape_numel(shape));
  for (double& x : v) x = rng.uniform(lo, hi);
  return Tensor::from_vector(v, shape, Device::CPU, dtype);
}

double max_abs_diff(const std::vector<double>& a, const std::vector<double>& b) {
  REQUIRE(a.size() == b.size());
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(a[i] - b[i]));
  return m;
}

double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

// A random matrix: Table 1 draws at scale 1..5, or strong maps (rotation up to 40 degrees, zoom
// 0.6..1.6, anisotropy, shear, translation up to 6 px), all about the image centre.
std::vector<double> random_matrices(int64_t n, int64_t h, int64_t w, Rng& rng, bool strong) {
  std::vector<double> m;
  for (int64_t i = 0; i < n; ++i) {
    if (!strong) {
      for (double v : transform_matrix(sample_transform(rng.uniform(1, 5), rng), w, h)) m.push_back(v);
      continue;
    }
    const double r = rng.uniform(-40, 40) * kDeg, sx = rng.uniform(0.6, 1.6),
                 sy = rng.uniform(0.6, 1.6), k = rng.uniform(-0.3, 0.3);
    const double a = sx * std::cos(r), b = -sy * std::sin(r) + k, c = sx * std::sin(r),
                 d = sy * std::cos(r);
    const double cx = w / 2.0, cy = h / 2.0, tx = rng.uniform(-6, 6), ty = rng.uniform(-6, 6);
    m.insert(m.end(), {a, b, cx - a * cx - b * cy + tx, c, d, cy - c * cx - d * cy + ty});
  }
  return m;
}

}  // namespace

TEST_CASE("transform: matrices match the golden float64 values") {
  nlohmann::json g = load_json("transform_matrices.json");
  REQUIRE(g["cases"].size() >= 20);
  double worst = 0;
  for (const auto& c : g["cases"]) {
    TransformParams p;
    p.tx = c["params"]["tx"];
    p.ty = c["params"]["ty"];
    p.r_deg = c["params"]["r_deg"];
    p.z = c["params"]["z"];
    p.hx_deg = c["params"]["hx_deg"];
    p.hy_deg = c["params"]["hy_deg"];
    AffineMatrix m = transform_matrix(p, c["W"].get<int64_t>(), c["H"].get<int64_t>());
    for (int r = 0; r < 2; ++r)
      for (int k = 0; k < 3; ++k)
        worst = std::max(worst, std::abs(m[3 * r + k] - c["matrix"][r][k].get<double>()));
  }
  CHECK(worst <= 1e-12);
}

TEST_CASE("transform: hand-worked matrices") {
  const double eps = 1e-14;
  SUBCASE("zero parameters give the identity") {
    AffineMatrix m = transform_matrix(TransformParams{}, 37, 21);
    const double id[6] = {1, 0, 0, 0, 1, 0};
    for (int k = 0; k < 6; ++k) CHECK(std::abs(m[k] - id[k]) <= eps);
  }
  SUBCASE("pure translation adds (tx, ty)") {
    TransformParams p;
    p.tx = 1.5, p.ty = -0.25;
    AffineMatrix m = transform_matrix(p, 40, 30);
    const double want[6] = {1, 0, 1.5, 0, 1, -0.25};
    for (int k = 0; k < 6; ++k) CHECK(std::abs(m[k] - want[k]) <= eps);
  }
  SUBCASE("rotation by 90 degrees about the centre") {
    TransformParams p;
    p.r_deg = 90;
    AffineMatrix m = transform_matrix(p, 10, 10);
    // x_in = -(y - 5) + 5, y_in = (x - 5) + 5.
    const double want[6] = {0, -1, 10, 1, 0, 0};
    for (int k = 0; k < 6; ++k) CHECK(std::abs(m[k] - want[k]) <= 1e-13);
    // output (7, 5) samples the input at (5, 7)
    CHECK(std::abs(m[0] * 7 + m[1] * 5 + m[2] - 5) <= 1e-13);
    CHECK(std::abs(m[3] * 7 + m[4] * 5 + m[5] - 7) <= 1e-13);
  }
  SUBCASE("rotation by 30 degrees keeps the centre fixed") {
    TransformParams p;
    p.r_deg = 30;
    AffineMatrix m = transform_matrix(p, 20, 12);  // centre (10, 6)
    const double c = std::cos(30 * kDeg), s = std::sin(30 * kDeg);
    CHECK(std::abs(m[0] - c) <= eps);
    CHECK(std::abs(m[1] + s) <= eps);
    CHECK(std::abs(m[3] - s) <= eps);
    CHECK(std::abs(m[4] - c) <= eps);
    CHECK(std::abs(m[0] * 10 + m[1] * 6 + m[2] - 10) <= 1e-13);
    CHECK(std::abs(m[3] * 10 + m[4] * 6 + m[5] - 6) <= 1e-13);
  }
  SUBCASE("zoom scales about the centre") {
    TransformParams p;
    p.z = 2;
    AffineMatrix m = transform_matrix(p, 16, 8);  // x_in = 2 (x - 8) + 8 = 2x - 8
    const double want[6] = {2, 0, -8, 0, 2, -4};
    for (int k = 0; k < 6; ++k) CHECK(std::abs(m[k] - want[k]) <= eps);
  }
  SUBCASE("horizontal shear") {
    TransformParams p;
    p.hx_deg = 10;
    AffineMatrix m = transform_matrix(p, 16, 8);
    const double t = std::tan(10 * kDeg);
    const double want[6] = {1, t, -t * 4, 0, 1, 0};
    for (int k = 0; k < 6; ++k) CHECK(std::abs(m[k] - want[k]) <= eps);
  }
}

TEST_CASE("transform: 100,000 draws stay inside Table 1's ranges and fill them") {
  for (double scale : {1.0, 2.5}) {
    Rng rng(4242);
    double lo[6], hi[6];
    std::fill(lo, lo + 6, 1e300);
    std::fill(hi, hi + 6, -1e300);
    for (int i = 0; i < 100000; ++i) {
      TransformParams p = sample_transform(scale, rng);
      const double v[6] = {p.tx, p.ty, p.r_deg, p.z - 1, p.hx_deg, p.hy_deg};
      for (int k = 0; k < 6; ++k) lo[k] = std::min(lo[k], v[k]), hi[k] = std::max(hi[k], v[k]);
    }
    const double bound[6] = {2 * scale, 2 * scale, scale, 0.03 * scale, scale, scale};
    for (int k = 0; k < 6; ++k) {
      CAPTURE(k);
      CAPTURE(scale);
      CHECK(lo[k] >= -bound[k]);
      CHECK(hi[k] <= bound[k]);
      CHECK(lo[k] <= -0.999 * bound[k]);  // filled to within 0.1% of each end
      CHECK(hi[k] >= 0.999 * bound[k]);
    }
  }
}

TEST_CASE("transform: matrix tensors and the seeded draws") {
  Rng a(7), b(7);
  Tensor m1 = random_transform_matrices(5, 24, 32, 1.0, a, Device::CPU, DType::F64);
  std::vector<TransformParams> ps;
  for (int i = 0; i < 5; ++i) ps.push_back(sample_transform(1.0, b));
  Tensor m2 = transform_matrices(ps, 32, 24, Device::CPU, DType::F64);
  CHECK(m1.shape() == Shape({5, 6}));
  CHECK(max_abs_diff(m1.to_host(), m2.to_host()) == 0.0);
  std::vector<double> v = m1.to_host();
  AffineMatrix third = transform_matrix(ps[2], 32, 24);
  for (int k = 0; k < 6; ++k) CHECK(v[12 + k] == third[k]);
  CHECK(a.counter() == b.counter());
}

TEST_CASE("warp: golden forward and adjoint") {
  nlohmann::json g = load_json("warp.json");
  REQUIRE(g["cases"].size() >= 6);
  Backend& be = cpu_backend();
  for (const auto& c : g["cases"]) {
    const int64_t C = c["C"], H = c["H"], W = c["W"];
    std::vector<double> m, img, warped, cot, adj;
    for (int r = 0; r < 2; ++r)
      for (int k = 0; k < 3; ++k) m.push_back(c["matrix"][r][k]);
    auto flat = [&](const nlohmann::json& a, std::vector<double>& out) {
      for (const auto& ch : a)
        for (const auto& row : ch)
          for (const auto& v : row) out.push_back(v.get<double>());
    };
    flat(c["image"], img);
    flat(c["warped"], warped);
    flat(c["cotangent"], cot);
    flat(c["adjoint"], adj);
    const Shape s{1, C, H, W};
    double scale = 0;
    for (double v : warped) scale = std::max(scale, std::abs(v));
    for (double v : adj) scale = std::max(scale, std::abs(v));
    // float64
    Tensor mat = Tensor::from_vector(m, {1, 6});
    CHECK(max_abs_diff(be.warp_affine_forward(Tensor::from_vector(img, s), mat).to_host(), warped) <=
          1e-12 * scale);
    CHECK(max_abs_diff(be.warp_affine_backward(Tensor::from_vector(cot, s), mat).to_host(), adj) <=
          1e-12 * scale);
    // float32 (image, cotangent and matrix rounded to float)
    Tensor mat32 = Tensor::from_vector(m, {1, 6}, Device::CPU, DType::F32);
    CHECK(max_abs_diff(be.warp_affine_forward(Tensor::from_vector(img, s, Device::CPU, DType::F32),
                                              mat32).to_host(), warped) <= 2e-6 * scale);
    CHECK(max_abs_diff(be.warp_affine_backward(Tensor::from_vector(cot, s, Device::CPU, DType::F32),
                                               mat32).to_host(), adj) <= 2e-6 * scale);
  }
}

TEST_CASE("warp: the identity is exact") {
  Rng rng(11);
  Backend& be = cpu_backend();
  for (DType dt : {DType::F32, DType::F64}) {
    Tensor x = random_tensor({2, 3, 7, 9}, rng, dt);
    Tensor id = Tensor::from_vector(std::vector<double>{1, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1, 0}, {2, 6},
                                    Device::CPU, dt);
    CHECK(max_abs_diff(be.warp_affine_forward(x, id).to_host(), x.to_host()) == 0.0);
    CHECK(max_abs_diff(be.warp_affine_backward(x, id).to_host(), x.to_host()) == 0.0);
    std::vector<double> mask = be.warp_valid_mask(id, 2, 7, 9).to_host();
    CHECK(std::all_of(mask.begin(), mask.end(), [](double v) { return v == 1.0; }));
    // An identity built by the Table 1 parameterization warps exactly too.
    Tensor table = transform_matrices({TransformParams{}, TransformParams{}}, 9, 7, Device::CPU, dt);
    CHECK(max_abs_diff(be.warp_affine_forward(x, table).to_host(), x.to_host()) == 0.0);
  }
}

TEST_CASE("warp: an integer translation is an exact shift with zeros filled in") {
  Rng rng(12);
  Backend& be = cpu_backend();
  const int64_t H = 6, W = 8;
  const int shifts[3][2] = {{2, -1}, {-3, 0}, {0, 4}};
  for (DType dt : {DType::F32, DType::F64}) {
    Tensor x = random_tensor({3, 2, H, W}, rng, dt);
    std::vector<double> m;
    for (auto& s : shifts) m.insert(m.end(), {1, 0, double(s[0]), 0, 1, double(s[1])});
    Tensor mat = Tensor::from_vector(m, {3, 6}, Device::CPU, dt);
    std::vector<double> out = be.warp_affine_forward(x, mat).to_host(), in = x.to_host();
    std::vector<double> mask = be.warp_valid_mask(mat, 3, H, W).to_host();
    int mismatches = 0, mask_mismatches = 0;
    for (int64_t s = 0; s < 3; ++s)
      for (int64_t c = 0; c < 2; ++c)
        for (int64_t y = 0; y < H; ++y)
          for (int64_t xx = 0; xx < W; ++xx) {
            int64_t xi = xx + shifts[s][0], yi = y + shifts[s][1];
            bool inside = xi >= 0 && xi < W && yi >= 0 && yi < H;
            double want = inside ? in[((s * 2 + c) * H + yi) * W + xi] : 0.0;
            mismatches += out[((s * 2 + c) * H + y) * W + xx] != want;
            if (c == 0) mask_mismatches += mask[(s * H + y) * W + xx] != (inside ? 1.0 : 0.0);
          }
    CHECK(mismatches == 0);
    CHECK(mask_mismatches == 0);
  }
}

TEST_CASE("warp: forward and adjoint equal a naive hat-function implementation") {
  Rng rng(13);
  Backend& be = cpu_backend();
  const int64_t N = 4, C = 2, H = 11, W = 13;
  for (bool strong : {false, true}) {
    std::vector<double> m = random_matrices(N, H, W, rng, strong);
    Tensor mat = Tensor::from_vector(m, {N, 6});
    Tensor x = random_tensor({N, C, H, W}, rng, DType::F64);
    Tensor g = random_tensor({N, C, H, W}, rng, DType::F64);
    CHECK(max_abs_diff(be.warp_affine_forward(x, mat).to_host(),
                       warp_reference::warp(x.to_host(), m, N, C, H, W)) <= 1e-12);
    CHECK(max_abs_diff(be.warp_affine_backward(g, mat).to_host(),
                       warp_reference::adjoint(g.to_host(), m, N, C, H, W)) <= 1e-12);
    // float32 against the same double reference (matrix rounded to float first)
    Tensor mat32 = Tensor::from_vector(m, {N, 6}, Device::CPU, DType::F32);
    std::vector<double> m32 = mat32.to_host();
    Tensor x32 = x.to(DType::F32), g32 = g.to(DType::F32);
    CHECK(max_abs_diff(be.warp_affine_forward(x32, mat32).to_host(),
                       warp_reference::warp(x32.to_host(), m32, N, C, H, W)) <= 1e-6);
    CHECK(max_abs_diff(be.warp_affine_backward(g32, mat32).to_host(),
                       warp_reference::adjoint(g32.to_host(), m32, N, C, H, W)) <= 1e-6);
  }
}

TEST_CASE("warp: adjoint identity <W u, v> = <u, W^T v>") {
  Rng rng(14);
  Backend& be = cpu_backend();
  const int64_t N = 3, C = 3, H = 16, W = 20;
  for (int trial = 0; trial < 6; ++trial) {
    std::vector<double> m = random_matrices(N, H, W, rng, trial % 2 == 1);
    for (DType dt : {DType::F64, DType::F32}) {
      Tensor mat = Tensor::from_vector(m, {N, 6}, Device::CPU, dt);
      Tensor u = random_tensor({N, C, H, W}, rng, dt), v = random_tensor({N, C, H, W}, rng, dt);
      const double lhs = dot(be.warp_affine_forward(u, mat).to_host(), v.to_host());
      const double rhs = dot(u.to_host(), be.warp_affine_backward(v, mat).to_host());
      const double rel = std::abs(lhs - rhs) / std::max(std::abs(lhs), std::abs(rhs));
      CAPTURE(trial);
      CAPTURE(lhs);
      CHECK(rel <= (dt == DType::F64 ? 1e-12 : 1e-5));
    }
  }
}

TEST_CASE("warp: the valid mask marks sample points inside [0, W-1] x [0, H-1]") {
  Rng rng(15);
  Backend& be = cpu_backend();
  const int64_t N = 3, H = 9, W = 12;
  std::vector<double> m = random_matrices(N, H, W, rng, true);
  std::vector<double> mask = be.warp_valid_mask(Tensor::from_vector(m, {N, 6}), N, H, W).to_host();
  int wrong = 0, inside = 0;
  for (int64_t s = 0; s < N; ++s)
    for (int64_t y = 0; y < H; ++y)
      for (int64_t x = 0; x < W; ++x) {
        const double* mm = &m[6 * s];
        const double xs = mm[0] * x + mm[1] * y + mm[2], ys = mm[3] * x + mm[4] * y + mm[5];
        const bool in = xs >= 0 && xs <= W - 1 && ys >= 0 && ys <= H - 1;
        inside += in;
        wrong += mask[(s * H + y) * W + x] != (in ? 1.0 : 0.0);
      }
  CHECK(wrong == 0);
  CHECK(inside > 0);
  CHECK(inside < N * H * W);  // the strong maps leave part of each image
}

TEST_CASE("warp: shape and device errors name the op") {
  Backend& be = cpu_backend();
  Tensor x = Tensor::from_vector(std::vector<double>(2 * 1 * 3 * 3, 0.5), {2, 1, 3, 3});
  Tensor bad = Tensor::from_vector(std::vector<double>(6, 0.0), {1, 6});
  CHECK_THROWS_WITH_AS(be.warp_affine_forward(x, bad), doctest::Contains("warp_affine_forward"),
                       Error);
  CHECK_THROWS_WITH_AS(be.warp_affine_backward(x, bad), doctest::Contains("warp_affine_backward"),
                       Error);
}

TEST_CASE("warp: the gather over preimage windows (the CUDA adjoint's scheme) equals the scatter") {
  // kernels/warp.cu computes W^T as a gather: input pixel (i, j) visits the output pixels of
  // warp::preimage_window and adds tap_weight * cotangent. Run the same scheme on the host so the
  // window bound is checked here too: a missed output pixel would lose its contribution.
  Rng rng(16);
  Backend& be = cpu_backend();
  const int64_t N = 4, C = 2, H = 13, W = 17;
  for (const char* kind : {"table1", "strong", "singular", "far"}) {
    std::vector<double> m;
    if (std::string(kind) == "singular") {
      for (int64_t s = 0; s < N; ++s) m.insert(m.end(), {0.5, 0.25, 1.3 + s, 1.0, 0.5, 0.7});
    } else if (std::string(kind) == "far") {  // everything samples outside
      for (int64_t s = 0; s < N; ++s) m.insert(m.end(), {1, 0, 100.0 + s, 0, 1, -50});
    } else {
      m = random_matrices(N, H, W, rng, std::string(kind) == "strong");
    }
    Tensor g = random_tensor({N, C, H, W}, rng, DType::F64);
    std::vector<double> gv = g.to_host(), gather(gv.size(), 0.0);
    int64_t widest = 0;
    for (int64_t s = 0; s < N; ++s)
      for (int64_t j = 0; j < H; ++j)
        for (int64_t i = 0; i < W; ++i) {
          const warp::Window win = warp::preimage_window(&m[6 * s], i, j, H, W);
          widest = std::max(widest, (win.x_hi - win.x_lo + 1) * (win.y_hi - win.y_lo + 1));
          for (int64_t ch = 0; ch < C; ++ch) {
            double acc = 0;
            for (int64_t qy = win.y_lo; qy <= win.y_hi; ++qy)
              for (int64_t qx = win.x_lo; qx <= win.x_hi; ++qx) {
                double sx, sy;
                warp::sample_point(&m[6 * s], qx, qy, sx, sy);
                acc += warp::tap_weight(warp::taps(sx, sy, H, W), i, j) *
                       gv[((s * C + ch) * H + qy) * W + qx];
              }
            gather[((s * C + ch) * H + j) * W + i] = acc;
          }
        }
    CAPTURE(kind);
    CHECK(max_abs_diff(gather, be.warp_affine_backward(g, Tensor::from_vector(m, {N, 6})).to_host()) <=
          1e-13);
    if (std::string(kind) == "table1") CHECK(widest <= 9);  // near-identity: at most 3x3
    if (std::string(kind) == "singular") CHECK(widest == H * W);  // the whole-image fallback
  }
}
