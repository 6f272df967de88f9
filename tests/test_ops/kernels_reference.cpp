// "forward: <op>" cases: the CPU kernels of kernels/elementwise.cpp, resample.cpp and
// batch_norm.cpp against hand-computed values (PyTorch's documented results for bilinear
// resizing, batch-norm statistics worked out on paper) and against naive loops written here
// independently of the kernels. Gradients are checked by finite differences in grad.cpp.
#include <doctest/doctest.h>
#include <omp.h>

#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "engine/backend.h"
#include "engine/rng.h"

using namespace steady;

namespace {

Backend& cpu() { return cpu_backend(); }

Tensor random_tensor(const Shape& shape, Rng& rng, DType dtype = DType::F64, double lo = -1.0,
                     double hi = 1.0) {
  std::vector<double> v(shape_numel(shape));
  for (double& x : v) x = rng.uniform(lo, hi);
  return Tensor::from_vector(v, shape, Device::CPU, dtype);
}

void check_values(const Tensor& t, const std::vector<double>& expected, double tol) {
  std::vector<double> got = t.to_host();
  REQUIRE(got.size() == expected.size());
  for (size_t i = 0; i < got.size(); ++i) {
    CAPTURE(i);
    if (tol == 0.0) {
      CHECK(got[i] == expected[i]);
    } else {
      CHECK(got[i] == doctest::Approx(expected[i]).epsilon(tol).scale(1.0));
    }
  }
}

// Naive NCHW max pool: the value of the first maximum of each window.
std::vector<double> naive_max_pool(const std::vector<double>& x, int64_t n, int64_t c, int64_t h,
                                   int64_t w, int k, int s) {
  int64_t ho = (h - k) / s + 1, wo = (w - k) / s + 1;
  std::vector<double> y;
  for (int64_t p = 0; p < n * c; ++p)
    for (int64_t oy = 0; oy < ho; ++oy)
      for (int64_t ox = 0; ox < wo; ++ox) {
        double best = -std::numeric_limits<double>::infinity();
        for (int dy = 0; dy < k; ++dy)
          for (int dx = 0; dx < k; ++dx)
            best = std::max(best, x[(p * h + oy * s + dy) * w + ox * s + dx]);
        y.push_back(best);
      }
  return y;
}

double dot(const Tensor& a, const Tensor& b) {
  std::vector<double> av = a.to_host(), bv = b.to_host();
  double s = 0;
  for (size_t i = 0; i < av.size(); ++i) s += av[i] * bv[i];
  return s;
}

}  // namespace

// ------------------------------------------------------------------ elementwise

TEST_CASE("forward: unary ops at known points") {
  for (DType dt : {DType::F32, DType::F64}) {
    std::string dtype = dtype_name(dt);
    CAPTURE(dtype);
    Tensor x = Tensor::from_vector(std::vector<double>{-2.0, 0.0, 0.5, 3.0}, {4}, Device::CPU, dt);
    double tol = dt == DType::F32 ? 1e-6 : 1e-14;
    check_values(cpu().unary(UnaryOp::Relu, x, 0.f), {0.0, 0.0, 0.5, 3.0}, tol);
    check_values(cpu().unary(UnaryOp::LeakyRelu, x, 0.25f), {-0.5, 0.0, 0.5, 3.0}, tol);
    check_values(cpu().unary(UnaryOp::Sigmoid, x, 0.f),
                 {1 / (1 + std::exp(2.0)), 0.5, 1 / (1 + std::exp(-0.5)), 1 / (1 + std::exp(-3.0))},
                 tol);
    check_values(cpu().unary(UnaryOp::Tanh, x, 0.f),
                 {std::tanh(-2.0), 0.0, std::tanh(0.5), std::tanh(3.0)}, tol);
    check_values(cpu().unary(UnaryOp::Exp, x, 0.f),
                 {std::exp(-2.0), 1.0, std::exp(0.5), std::exp(3.0)}, tol);
    Tensor pos = Tensor::from_vector(std::vector<double>{0.5, 1.0, std::exp(2.0)}, {3},
                                     Device::CPU, dt);
    check_values(cpu().unary(UnaryOp::Log, pos, 0.f), {std::log(0.5), 0.0, 2.0}, tol);
    Tensor squares = Tensor::from_vector(std::vector<double>{0.25, 1.0, 4.0}, {3}, Device::CPU, dt);
    check_values(cpu().unary(UnaryOp::Rsqrt, squares, 0.f), {2.0, 1.0, 0.5}, 0.0);
  }
  // Sigmoid must not overflow to NaN for large |x|.
  Tensor big = Tensor::from_vector(std::vector<float>{-1000.f, 1000.f}, {2});
  check_values(cpu().unary(UnaryOp::Sigmoid, big, 0.f), {0.0, 1.0}, 0.0);
}

TEST_CASE("forward: unary_backward at known points") {
  Tensor x = Tensor::from_vector(std::vector<double>{-2.0, 0.0, 0.5, 3.0}, {4});
  Tensor gy = Tensor::from_vector(std::vector<double>{1.0, 2.0, 3.0, 4.0}, {4});
  auto grad = [&](UnaryOp op, float slope) {
    Tensor y = cpu().unary(op, x, slope);
    return cpu().unary_backward(op, x, y, gy, slope);
  };
  // relu's gradient at exactly 0 is 0 (PyTorch's convention); leaky relu's is the slope.
  check_values(grad(UnaryOp::Relu, 0.f), {0.0, 0.0, 3.0, 4.0}, 0.0);
  check_values(grad(UnaryOp::LeakyRelu, 0.25f), {0.25, 0.5, 3.0, 4.0}, 0.0);
  auto sg = [](double v) { return 1 / (1 + std::exp(-v)); };
  check_values(grad(UnaryOp::Sigmoid, 0.f),
               {sg(-2) * (1 - sg(-2)), 2 * 0.25, 3 * sg(0.5) * (1 - sg(0.5)), 4 * sg(3) * (1 - sg(3))},
               1e-14);
  check_values(grad(UnaryOp::Tanh, 0.f),
               {1 - std::pow(std::tanh(-2.0), 2), 2.0, 3 * (1 - std::pow(std::tanh(0.5), 2)),
                4 * (1 - std::pow(std::tanh(3.0), 2))},
               1e-14);
  check_values(grad(UnaryOp::Exp, 0.f),
               {std::exp(-2.0), 2.0, 3 * std::exp(0.5), 4 * std::exp(3.0)}, 1e-14);
  Tensor pos = Tensor::from_vector(std::vector<double>{0.5, 1.0, 4.0, 8.0}, {4});
  Tensor gl = cpu().unary_backward(UnaryOp::Log, pos, Tensor(), gy, 0.f);
  check_values(gl, {2.0, 2.0, 0.75, 0.5}, 1e-15);
  // Either operand alone gives the same gradient.
  Tensor y = cpu().unary(UnaryOp::Sigmoid, x, 0.f);
  check_values(cpu().unary_backward(UnaryOp::Sigmoid, x, Tensor(), gy, 0.f),
               cpu().unary_backward(UnaryOp::Sigmoid, Tensor(), y, gy, 0.f).to_host(), 1e-15);
  CHECK_THROWS_AS(cpu().unary_backward(UnaryOp::Relu, Tensor(), Tensor(), gy, 0.f), Error);
  CHECK_THROWS_AS(cpu().unary_backward(UnaryOp::Relu, x.reshape({2, 2}), y, gy.reshape({2, 2}).to(DType::F32), 0.f),
                  Error);
}

TEST_CASE("forward: binary, scale_shift, broadcast_scalar, fill") {
  Tensor a = Tensor::from_vector(std::vector<float>{1.f, 2.f, 3.f, 4.f}, {2, 2});
  Tensor b = Tensor::from_vector(std::vector<float>{0.5f, -1.f, 2.f, 8.f}, {2, 2});
  check_values(cpu().binary(BinaryOp::Add, a, b), {1.5, 1.0, 5.0, 12.0}, 0.0);
  check_values(cpu().binary(BinaryOp::Sub, a, b), {0.5, 3.0, 1.0, -4.0}, 0.0);
  check_values(cpu().binary(BinaryOp::Mul, a, b), {0.5, -2.0, 6.0, 32.0}, 0.0);
  check_values(cpu().scale_shift(a, -2.0, 0.5), {-1.5, -3.5, -5.5, -7.5}, 0.0);
  Tensor s = Tensor::from_vector(std::vector<double>{3.0}, {1});
  Tensor bs = cpu().broadcast_scalar(s, {2, 3}, 0.5);
  CHECK(bs.shape() == Shape{2, 3});
  CHECK(bs.dtype() == DType::F64);
  check_values(bs, std::vector<double>(6, 1.5), 0.0);
  // fill on a view touches only the view.
  Tensor flat = Tensor::zeros({6});
  Tensor mid = flat.view(2, {3});
  cpu().fill(mid, 7.0);
  check_values(flat, {0, 0, 7, 7, 7, 0}, 0.0);
  // shape, dtype and element-count errors name the op
  CHECK_THROWS_WITH_AS(cpu().binary(BinaryOp::Add, a, b.reshape({4})), doctest::Contains("add"),
                       Error);
  CHECK_THROWS_AS(cpu().binary(BinaryOp::Mul, a, a.to(DType::F64)), Error);
  CHECK_THROWS_AS(cpu().broadcast_scalar(a, {2}, 1.0), Error);
}

TEST_CASE("forward: maximum, its gradient (ties split, NaN propagates), max_channels, mul_channels") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  Tensor a = Tensor::from_vector(std::vector<double>{1, 5, 2, nan, -3}, {5});
  Tensor b = Tensor::from_vector(std::vector<double>{4, 5, -1, 0, nan}, {5});
  const std::vector<double> m = cpu().binary(BinaryOp::Max, a, b).to_host();
  CHECK(m[0] == 4);
  CHECK(m[1] == 5);
  CHECK(m[2] == 2);
  CHECK(std::isnan(m[3]));
  CHECK(std::isnan(m[4]));
  Tensor gy = Tensor::from_vector(std::vector<double>{1, 2, 3, 4, 5}, {5});
  Tensor ga, gb;
  cpu().maximum_backward(a, b, gy, ga, gb);
  check_values(ga, {0, 1, 3, 0, 0}, 0.0);  // the tie at 5 splits 2 into 1 + 1
  check_values(gb, {1, 1, 0, 0, 0}, 0.0);
  // [2,3,1,2] -> [2,1,1,2]: the maximum over the three channels of each pixel
  Tensor x = Tensor::from_vector(std::vector<double>{1, -2, 7, 0, 3, 3,  //
                                                     -1, -5, 0, -6, -2, -9},
                                 {2, 3, 1, 2});
  Tensor mc = cpu().max_channels(x);
  CHECK(mc.shape() == Shape{2, 1, 1, 2});
  check_values(mc, {7, 3, 0, -5}, 0.0);
  Tensor w = Tensor::from_vector(std::vector<double>{2, 0, -1, 0.5}, {2, 1, 1, 2});
  check_values(cpu().mul_channels(x, w), {2, 0, 14, 0, 6, 0, 1, -2.5, 0, -3, 2, -4.5}, 0.0);
  CHECK_THROWS_WITH_AS(cpu().mul_channels(x, x), doctest::Contains("mul_channels: m"), Error);
  CHECK_THROWS_WITH_AS(cpu().max_channels(a), doctest::Contains("max_channels: x must be"),
                       Error);
}

TEST_CASE("forward: accumulate into a view of a flat buffer") {
  // As parameter gradients do: dst is a view at an offset inside one flat buffer.
  Tensor flat = Tensor::from_vector(std::vector<double>{1, 1, 1, 1, 1, 1, 1, 1}, {8});
  Tensor dst = flat.view(3, {2, 2});
  Tensor src = Tensor::from_vector(std::vector<double>{1, 2, 3, 4}, {2, 2});
  cpu().accumulate(dst, src, 1.0);
  cpu().accumulate(dst, src, -0.5);
  check_values(flat, {1, 1, 1, 1.5, 2, 2.5, 3, 1}, 0.0);
  Tensor wrong = Tensor::zeros({4});
  CHECK_THROWS_WITH_AS(cpu().accumulate(dst, wrong.to(DType::F64), 1.0),
                       doctest::Contains("accumulate"), Error);
  // large enough to run in parallel: matches the naive loop exactly
  Rng rng(5);
  Tensor big_dst = random_tensor({100003}, rng, DType::F32);
  Tensor big_src = random_tensor({100003}, rng, DType::F32);
  std::vector<float> expect(100003);
  const float* d = big_dst.data<float>();
  const float* sp = big_src.data<float>();
  for (size_t i = 0; i < expect.size(); ++i) expect[i] = d[i] + 0.25f * sp[i];
  cpu().accumulate(big_dst, big_src, 0.25);
  CHECK(std::memcmp(big_dst.data<float>(), expect.data(), expect.size() * sizeof(float)) == 0);
}

TEST_CASE("forward: sum is exact on known values and bitwise deterministic") {
  // 0 + 1 + ... + (n-1), exact in double; n spans several reduction chunks with a ragged end.
  const int64_t n = 300001;
  std::vector<float> ramp(n);
  for (int64_t i = 0; i < n; ++i) ramp[i] = static_cast<float>(i % 1000);
  double expect = 0;
  for (int64_t i = 0; i < n; ++i) expect += ramp[i];
  CHECK(cpu().sum(Tensor::from_vector(ramp, {n})).item() == expect);

  Rng rng(11);
  Tensor x = random_tensor({1 << 20}, rng, DType::F32, -1.0, 1.0);
  double naive = 0;
  for (double v : x.to_host()) naive += v;
  float first = cpu().sum(x).data<float>()[0];
  float again = cpu().sum(x).data<float>()[0];
  int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  float serial = cpu().sum(x).data<float>()[0];
  omp_set_num_threads(3);
  float three = cpu().sum(x).data<float>()[0];
  omp_set_num_threads(threads);
  CHECK(std::memcmp(&first, &again, sizeof(float)) == 0);
  CHECK(std::memcmp(&first, &serial, sizeof(float)) == 0);
  CHECK(std::memcmp(&first, &three, sizeof(float)) == 0);
  CHECK(first == doctest::Approx(naive).epsilon(1e-6));
  Tensor empty = Tensor::zeros({0});
  CHECK(cpu().sum(empty).item() == 0.0);
}

// ------------------------------------------------------------------ resampling

TEST_CASE("forward: resize_bilinear down 4x4 -> 2x2 averages each 2x2 block") {
  // PyTorch, align_corners=False, scale 2: source (d+0.5)*2-0.5 = 2d+0.5, weights 1/2, 1/2.
  for (DType dt : {DType::F32, DType::F64}) {
    std::vector<double> v(16);
    for (int i = 0; i < 16; ++i) v[i] = i * i * 0.1;  // not linear, so a wrong tap shows
    Tensor x = Tensor::from_vector(v, {1, 1, 4, 4}, Device::CPU, dt);
    Tensor y = cpu().resize_bilinear(x, 2, 2);
    CHECK(y.shape() == Shape{1, 1, 2, 2});
    std::vector<double> expect;
    for (int oy = 0; oy < 2; ++oy)
      for (int ox = 0; ox < 2; ++ox)
        expect.push_back((v[(2 * oy) * 4 + 2 * ox] + v[(2 * oy) * 4 + 2 * ox + 1] +
                          v[(2 * oy + 1) * 4 + 2 * ox] + v[(2 * oy + 1) * 4 + 2 * ox + 1]) / 4);
    check_values(y, expect, dt == DType::F32 ? 1e-6 : 1e-14);
  }
}

TEST_CASE("forward: resize_bilinear down 3x3 -> 2x2 (non-integer ratio)") {
  // scale 1.5: sources 0.25 and 1.75, so 1-D weights (0.75, 0.25, 0) and (0, 0.25, 0.75).
  std::vector<double> v{1, 2, 4, 8, 16, 32, 64, 128, 256};
  Tensor y = cpu().resize_bilinear(Tensor::from_vector(v, {1, 1, 3, 3}), 2, 2);
  const double wt[2][3] = {{0.75, 0.25, 0}, {0, 0.25, 0.75}};
  std::vector<double> expect;
  for (int oy = 0; oy < 2; ++oy)
    for (int ox = 0; ox < 2; ++ox) {
      double s = 0;
      for (int iy = 0; iy < 3; ++iy)
        for (int ix = 0; ix < 3; ++ix) s += wt[oy][iy] * wt[ox][ix] * v[iy * 3 + ix];
      expect.push_back(s);
    }
  check_values(y, expect, 1e-14);
}

TEST_CASE("forward: resize_bilinear up 2x2 -> 4x4 matches PyTorch") {
  // F.interpolate(torch.tensor([[[[1., 2.], [3., 4.]]]]), size=(4, 4), mode='bilinear',
  // align_corners=False): per axis [a, 0.75a+0.25b, 0.25a+0.75b, b].
  const std::vector<double> torch_out{1.0, 1.25, 1.75, 2.0, 1.5, 1.75, 2.25, 2.5,
                                      2.5, 2.75, 3.25, 3.5, 3.0, 3.25, 3.75, 4.0};
  for (DType dt : {DType::F32, DType::F64}) {
    Tensor x = Tensor::from_vector(std::vector<double>{1, 2, 3, 4}, {1, 1, 2, 2}, Device::CPU, dt);
    check_values(cpu().resize_bilinear(x, 4, 4), torch_out, 0.0);
  }
  // 1 x 2 -> 1 x 5 (scale 0.4): sources -0.3->0, 0.1, 0.5, 0.9, 1.3 (upper tap clamped).
  Tensor row = Tensor::from_vector(std::vector<double>{10, 20}, {1, 1, 1, 2});
  check_values(cpu().resize_bilinear(row, 1, 5), {10, 11, 15, 19, 20}, 1e-14);
}

TEST_CASE("forward: resize_bilinear_backward is the exact adjoint") {
  Rng rng(3);
  for (auto [h, w, oh, ow] : std::vector<std::array<int, 4>>{{4, 4, 2, 2}, {5, 7, 9, 3}, {6, 6, 13, 11}}) {
    Tensor x = random_tensor({2, 3, h, w}, rng);
    Tensor g = random_tensor({2, 3, oh, ow}, rng);
    double lhs = dot(cpu().resize_bilinear(x, oh, ow), g);
    double rhs = dot(x, cpu().resize_bilinear_backward(g, h, w));
    CHECK(lhs == doctest::Approx(rhs).epsilon(1e-13));
  }
}

TEST_CASE("forward: max_pool2d against a naive loop, floor output size") {
  Rng rng(7);
  struct Case { int64_t n, c, h, w; int k, s; };
  for (Case cs : {Case{2, 3, 8, 8, 2, 2}, Case{1, 2, 7, 9, 3, 2}, Case{2, 1, 5, 5, 2, 3},
                  Case{1, 1, 6, 4, 3, 1}}) {
    CAPTURE(cs.k);
    CAPTURE(cs.s);
    Tensor x = random_tensor({cs.n, cs.c, cs.h, cs.w}, rng);
    Tensor y = cpu().max_pool2d(x, cs.k, cs.s);
    CHECK(y.shape() == Shape{cs.n, cs.c, (cs.h - cs.k) / cs.s + 1, (cs.w - cs.k) / cs.s + 1});
    check_values(y, naive_max_pool(x.to_host(), cs.n, cs.c, cs.h, cs.w, cs.k, cs.s), 0.0);
    check_values(cpu().max_pool2d(x.to(DType::F32), cs.k, cs.s),
                 naive_max_pool(x.to(DType::F32).to_host(), cs.n, cs.c, cs.h, cs.w, cs.k, cs.s), 0.0);
  }
  CHECK_THROWS_AS(cpu().max_pool2d(Tensor::zeros({1, 1, 2, 2}), 3, 1), Error);
  CHECK_THROWS_AS(cpu().max_pool2d(Tensor::zeros({4, 4}), 2, 2), Error);
}

TEST_CASE("forward: max_pool2d_backward routes to the first maximum") {
  // One 2x2 window of ties: the gradient goes to the top-left element only.
  Tensor ties = Tensor::from_vector(std::vector<double>{5, 5, 5, 5}, {1, 1, 2, 2});
  Tensor g1 = Tensor::from_vector(std::vector<double>{3}, {1, 1, 1, 1});
  check_values(cpu().max_pool2d_backward(ties, g1, 2, 2), {3, 0, 0, 0}, 0.0);
  // Overlapping windows (k 3, s 1 on 1x4) sharing their maximum add up there.
  Tensor x = Tensor::from_vector(std::vector<double>{1, 9, 2, 0, 1, 2, 3, 4, 5, 6, 7, 8},
                                 {1, 1, 3, 4});
  Tensor gy = Tensor::from_vector(std::vector<double>{1, 10}, {1, 1, 1, 2});
  // windows: columns 0-2 (max 9 at (0,1)) and 1-3 (max 9 at (0,1))
  check_values(cpu().max_pool2d(x, 3, 1), {9, 9}, 0.0);
  check_values(cpu().max_pool2d_backward(x, gy, 3, 1), {0, 11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 0.0);
  CHECK_THROWS_AS(cpu().max_pool2d_backward(x, Tensor::zeros({1, 1, 1, 3}, Device::CPU, DType::F64), 3, 1),
                  Error);
}

TEST_CASE("forward: the 2x2 stride-2 pooling path on odd sizes, ties and NaN, both dtypes") {
  // k = s = 2 has a branch-free path of its own; it must route like the first-maximum rule:
  // ties to the earliest element in row-major order, a NaN over any number, and zeros in the odd
  // last row and column that no window covers. Windows are disjoint: results are exact.
  Rng rng(11);
  const int64_t n = 2, c = 3, h = 7, w = 9, ho = 3, wo = 4;
  std::vector<double> x0 = random_tensor({n, c, h, w}, rng).to_host();
  for (size_t i = 0; i < x0.size(); i += 5) x0[i] = 0.5;  // ties inside windows
  x0[(1 * h + 2) * w + 3] = std::numeric_limits<double>::quiet_NaN();
  const std::vector<double> g0 = random_tensor({n, c, ho, wo}, rng).to_host();
  for (DType dt : {DType::F64, DType::F32}) {
    Tensor x = Tensor::from_vector(x0, {n, c, h, w}).to(dt);
    Tensor g = Tensor::from_vector(g0, {n, c, ho, wo}).to(dt);
    const std::vector<double> xv = x.to_host(), gv = g.to_host();
    std::vector<double> expect_y, expect_gx(xv.size(), 0.0);
    for (int64_t p = 0; p < n * c; ++p)
      for (int64_t oy = 0; oy < ho; ++oy)
        for (int64_t ox = 0; ox < wo; ++ox) {
          int64_t best = (p * h + 2 * oy) * w + 2 * ox;
          for (int dy = 0; dy < 2; ++dy)
            for (int dx = 0; dx < 2; ++dx) {
              const int64_t i = (p * h + 2 * oy + dy) * w + 2 * ox + dx;
              if (xv[i] > xv[best] || (std::isnan(xv[i]) && !std::isnan(xv[best]))) best = i;
            }
          expect_y.push_back(xv[best]);
          expect_gx[best] = gv[(p * ho + oy) * wo + ox];
        }
    const std::vector<double> y = cpu().max_pool2d(x, 2, 2).to_host();
    const std::vector<double> gx = cpu().max_pool2d_backward(x, g, 2, 2).to_host();
    REQUIRE(y.size() == expect_y.size());
    int nan_outputs = 0;
    for (size_t i = 0; i < y.size(); ++i) {
      CHECK(std::isnan(y[i]) == std::isnan(expect_y[i]));
      if (std::isnan(y[i])) ++nan_outputs;
      else CHECK(y[i] == expect_y[i]);
    }
    CHECK(nan_outputs == 1);
    CHECK(gx == expect_gx);
  }
}

TEST_CASE("forward: upsample_nearest2d and its block-sum backward") {
  Rng rng(9);
  Tensor x = random_tensor({2, 3, 3, 4}, rng);
  const std::vector<double> xv = x.to_host();
  for (int64_t f : {1, 2, 3}) {
    Tensor y = cpu().upsample_nearest2d(x, static_cast<int>(f));
    REQUIRE(y.shape() == Shape{2, 3, 3 * f, 4 * f});
    std::vector<double> expect;
    for (int64_t p = 0; p < 6; ++p)
      for (int64_t oy = 0; oy < 3 * f; ++oy)
        for (int64_t ox = 0; ox < 4 * f; ++ox) expect.push_back(xv[(p * 3 + oy / f) * 4 + ox / f]);
    check_values(y, expect, 0.0);
  }
  // backward of a known gy: each input gets the sum of its 3x3 block
  std::vector<double> gv(1 * 1 * 6 * 3);
  for (size_t i = 0; i < gv.size(); ++i) gv[i] = static_cast<double>(i);
  Tensor gx = cpu().upsample_nearest2d_backward(Tensor::from_vector(gv, {1, 1, 6, 3}), 3);
  REQUIRE(gx.shape() == Shape{1, 1, 2, 1});
  check_values(gx, {0 + 1 + 2 + 3 + 4 + 5 + 6 + 7 + 8, 9 + 10 + 11 + 12 + 13 + 14 + 15 + 16 + 17},
               0.0);
  CHECK_THROWS_AS(cpu().upsample_nearest2d_backward(Tensor::zeros({1, 1, 5, 4}), 2), Error);
}

TEST_CASE("forward: concat_channels and slice_channels round trip") {
  Rng rng(13);
  for (DType dt : {DType::F32, DType::F64}) {
    Tensor a = random_tensor({2, 1, 3, 4}, rng, dt);
    Tensor b = random_tensor({2, 3, 3, 4}, rng, dt);
    Tensor c = random_tensor({2, 2, 3, 4}, rng, dt);
    Tensor cat = cpu().concat_channels({a, b, c});
    REQUIRE(cat.shape() == Shape{2, 6, 3, 4});
    // naive check of one element per part
    std::vector<double> cv = cat.to_host(), bv = b.to_host();
    CHECK(cv[((1 * 6 + 2) * 3 + 1) * 4 + 3] == bv[((1 * 3 + 1) * 3 + 1) * 4 + 3]);
    check_values(cpu().slice_channels(cat, 0, 1), a.to_host(), 0.0);
    check_values(cpu().slice_channels(cat, 1, 4), b.to_host(), 0.0);
    check_values(cpu().slice_channels(cat, 4, 6), c.to_host(), 0.0);
    check_values(cpu().concat_channels({cpu().slice_channels(cat, 0, 2),
                                        cpu().slice_channels(cat, 2, 6)}),
                 cv, 0.0);
  }
  Tensor a = Tensor::zeros({2, 1, 3, 4});
  CHECK_THROWS_WITH_AS(cpu().concat_channels({a, Tensor::zeros({2, 1, 3, 5})}),
                       doctest::Contains("concat_channels"), Error);
  CHECK_THROWS_AS(cpu().concat_channels({a, a.to(DType::F64)}), Error);
  CHECK_THROWS_AS(cpu().slice_channels(a, 0, 2), Error);
}

// ------------------------------------------------------------------ batch norm

TEST_CASE("forward: batch_norm_train statistics and running-stat update, by hand") {
  // One channel holding 1, 2, 3, 4 (N 2, W 2): mean 2.5, biased variance 1.25, unbiased 5/3.
  Tensor x = Tensor::from_vector(std::vector<double>{1, 2, 3, 4}, {2, 1, 1, 2});
  Tensor gamma = Tensor::from_vector(std::vector<double>{2}, {1});
  Tensor beta = Tensor::from_vector(std::vector<double>{0.5}, {1});
  Tensor rm = Tensor::from_vector(std::vector<double>{1.0}, {1});
  Tensor rv = Tensor::from_vector(std::vector<double>{2.0}, {1});
  BatchNormSaved saved;
  const float eps = 1e-5f;
  Tensor y = cpu().batch_norm_train(x, gamma, beta, rm, rv, 0.1f, eps, saved);
  const double invstd = 1 / std::sqrt(1.25 + static_cast<double>(eps));
  check_values(saved.mean, {2.5}, 1e-15);
  check_values(saved.invstd, {invstd}, 1e-15);
  check_values(y, {-1.5 * invstd * 2 + 0.5, -0.5 * invstd * 2 + 0.5, 0.5 * invstd * 2 + 0.5,
                   1.5 * invstd * 2 + 0.5}, 1e-14);
  const double m = static_cast<double>(0.1f);
  check_values(rm, {(1 - m) * 1.0 + m * 2.5}, 1e-15);
  check_values(rv, {(1 - m) * 2.0 + m * 5.0 / 3.0}, 1e-15);
}

TEST_CASE("forward: batch_norm_train and eval against a naive loop") {
  Rng rng(17);
  const int64_t N = 3, C = 4, H = 5, W = 6;
  for (DType dt : {DType::F64, DType::F32}) {
    std::string dtype = dtype_name(dt);
    CAPTURE(dtype);
    const double tol = dt == DType::F32 ? 2e-5 : 1e-12;
    Tensor x = random_tensor({N, C, H, W}, rng, dt, -2.0, 3.0);
    Tensor gamma = random_tensor({C}, rng, dt, 0.5, 1.5);
    Tensor beta = random_tensor({C}, rng, dt);
    std::vector<double> rm0{0.1, -0.2, 0.3, 0.0}, rv0{1.0, 0.5, 2.0, 1.5};
    Tensor buffers = Tensor::zeros({2 * C + 2}, Device::CPU, dt);  // stats as views, as in a model
    Tensor rm = buffers.view(1, {C}), rv = buffers.view(1 + C, {C});
    rm.copy_from(Tensor::from_vector(rm0, {C}, Device::CPU, dt));
    rv.copy_from(Tensor::from_vector(rv0, {C}, Device::CPU, dt));
    BatchNormSaved saved;
    const float momentum = 0.25f, eps = 1e-3f;
    Tensor y = cpu().batch_norm_train(x, gamma, beta, rm, rv, momentum, eps, saved);

    std::vector<double> xv = x.to_host(), gv = gamma.to_host(), bv = beta.to_host();
    std::vector<double> expect_y(xv.size()), mean(C), var(C);
    const double M = N * H * W;
    for (int64_t c = 0; c < C; ++c) {
      double s = 0, sq = 0;
      for (int64_t n = 0; n < N; ++n)
        for (int64_t i = 0; i < H * W; ++i) s += xv[(n * C + c) * H * W + i];
      mean[c] = s / M;
      for (int64_t n = 0; n < N; ++n)
        for (int64_t i = 0; i < H * W; ++i) sq += std::pow(xv[(n * C + c) * H * W + i] - mean[c], 2);
      var[c] = sq / M;
      for (int64_t n = 0; n < N; ++n)
        for (int64_t i = 0; i < H * W; ++i) {
          int64_t k = (n * C + c) * H * W + i;
          expect_y[k] = (xv[k] - mean[c]) / std::sqrt(var[c] + eps) * gv[c] + bv[c];
        }
    }
    check_values(y, expect_y, tol);
    check_values(saved.mean, mean, tol);
    std::vector<double> expect_rm(C), expect_rv(C), invstd(C);
    for (int64_t c = 0; c < C; ++c) {
      expect_rm[c] = (1 - momentum) * rm0[c] + momentum * mean[c];
      expect_rv[c] = (1 - momentum) * rv0[c] + momentum * var[c] * M / (M - 1);
      invstd[c] = 1 / std::sqrt(var[c] + eps);
    }
    check_values(saved.invstd, invstd, tol);
    check_values(rm, expect_rm, tol);
    check_values(rv, expect_rv, tol);
    CHECK(buffers.to_host()[0] == 0.0);  // the views wrote only their own range
    CHECK(buffers.to_host()[2 * C + 1] == 0.0);

    // eval normalizes with the (updated) running statistics
    Tensor ye = cpu().batch_norm_eval(x, gamma, beta, rm, rv, eps);
    std::vector<double> rmv = rm.to_host(), rvv = rv.to_host(), expect_e(xv.size());
    for (int64_t k = 0; k < N * C * H * W; ++k) {
      int64_t c = (k / (H * W)) % C;
      expect_e[k] = (xv[k] - rmv[c]) / std::sqrt(rvv[c] + eps) * gv[c] + bv[c];
    }
    check_values(ye, expect_e, tol);
  }
}

TEST_CASE("forward: batch_norm_backward sums and shape errors") {
  // grad_beta = sum(gy), grad_gamma = sum(gy * xhat); a constant gy gives grad_x = 0 since
  // the normalization removes any shift.
  Rng rng(19);
  Tensor x = random_tensor({2, 3, 4, 4}, rng);
  Tensor gamma = random_tensor({3}, rng, DType::F64, 0.5, 1.5);
  Tensor beta = Tensor::zeros({3}, Device::CPU, DType::F64);
  Tensor rm = Tensor::zeros({3}, Device::CPU, DType::F64), rv = Tensor::full({3}, 1.0, Device::CPU, DType::F64);
  BatchNormSaved saved;
  Tensor y = cpu().batch_norm_train(x, gamma, beta, rm, rv, 0.1f, 1e-5f, saved);
  Tensor gy = Tensor::full(x.shape(), 0.5, Device::CPU, DType::F64);
  Tensor gg, gb;  // undefined: the backward allocates them
  Tensor gx = cpu().batch_norm_backward(x, gamma, saved, gy, gg, gb);
  REQUIRE(gg.defined());
  REQUIRE(gb.defined());
  check_values(gb, {16.0, 16.0, 16.0}, 1e-14);
  for (double v : gg.to_host()) CHECK(std::abs(v) < 1e-12);  // sum(xhat) = 0
  for (double v : gx.to_host()) CHECK(std::abs(v) < 1e-12);
  // Given tensors are overwritten, not accumulated into.
  Tensor gg2 = Tensor::full({3}, 100.0, Device::CPU, DType::F64), gb2 = gg2.clone();
  cpu().batch_norm_backward(x, gamma, saved, gy, gg2, gb2);
  check_values(gb2, {16.0, 16.0, 16.0}, 1e-14);
  Tensor bad = Tensor::zeros({4}, Device::CPU, DType::F64);
  CHECK_THROWS_WITH_AS(cpu().batch_norm_backward(x, gamma, saved, gy, bad, gb2),
                       doctest::Contains("grad_gamma"), Error);
  CHECK_THROWS_WITH_AS(cpu().batch_norm_train(x, bad, beta, rm, rv, 0.1f, 1e-5f, saved),
                       doctest::Contains("gamma"), Error);
  Tensor single = Tensor::zeros({1, 3, 1, 1}, Device::CPU, DType::F64);
  CHECK_THROWS_AS(cpu().batch_norm_train(single, gamma, beta, rm, rv, 0.1f, 1e-5f, saved), Error);
}
