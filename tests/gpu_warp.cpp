// kernels/warp.cu and kernels/reg_loss.cu against their CPU twins: the warp forward, the gather
// adjoint and the valid mask on Table 1 draws, strong maps, exact shifts and a singular matrix
// (the adjoint's whole-image fallback); the adjoint identity on the GPU; bitwise repeatability
// (no atomics); each fused loss with and without a mask; and the six --reg modes fused against
// composed on the GPU through a tiny network.
#include <cmath>
#include <string>
#include <vector>

#include "engine/ops.h"
#include "gpu_ops/gpu_check.h"
#include "losses/regularizers.h"
#include "losses/transform.h"

using namespace steady;
using namespace gpu_check;

namespace {

constexpr double kDeg = 3.14159265358979323846 / 180.0;

// Matrices of several kinds for n samples of h x w, float32 on the CPU.
Tensor matrices(const std::string& kind, int64_t n, int64_t h, int64_t w) {
  std::vector<double> m;
  for (int64_t i = 0; i < n; ++i) {
    const double cx = w / 2.0, cy = h / 2.0;
    if (kind == "table1") {
      for (double v : transform_matrix(sample_transform(1.0, rng()), w, h)) m.push_back(v);
    } else if (kind == "table1x4") {
      for (double v : transform_matrix(sample_transform(4.0, rng()), w, h)) m.push_back(v);
    } else if (kind == "strong") {
      const double r = rng().uniform(-40, 40) * kDeg, sx = rng().uniform(0.5, 2.0),
                   sy = rng().uniform(0.5, 2.0), k = rng().uniform(-0.3, 0.3);
      const double a = sx * std::cos(r), b = -sy * std::sin(r) + k, c = sx * std::sin(r),
                   d = sy * std::cos(r);
      m.insert(m.end(), {a, b, cx - a * cx - b * cy + rng().uniform(-5, 5), c, d,
                         cy - c * cx - d * cy + rng().uniform(-5, 5)});
    } else if (kind == "shift") {
      m.insert(m.end(), {1, 0, double(int(i % 5) - 2), 0, 1, double(int(i % 3) - 1)});
    } else {  // "singular": rank one, every output row samples along one line
      m.insert(m.end(), {0.5, 0.25, 1.3, 1.0, 0.5, 0.7});
    }
  }
  return Tensor::from_vector(m, {n, 6}, Device::CPU, DType::F32);
}

double dot(const Tensor& a, const Tensor& b) {
  const std::vector<double> x = a.to_host(), y = b.to_host();
  double s = 0;
  for (size_t i = 0; i < x.size(); ++i) s += x[i] * y[i];
  return s;
}

}  // namespace

TEST_CASE("gpu warp: forward, adjoint and valid mask against the CPU") {
  GpuCase gpu_case;
  const Shape shapes[] = {{1, 1, 5, 7}, {2, 3, 9, 11}, {3, 5, 32, 40}, {16, 3, 128, 128}};
  for (const Shape& s : shapes) {
    for (const char* kind : {"table1", "table1x4", "strong", "shift", "singular"}) {
      if (std::string(kind) == "singular" && s[2] * s[3] > 2000) continue;  // whole-image window
      const std::string what = std::string(kind) + " " + shape_str(s);
      const Tensor mat = matrices(kind, s[0], s[2], s[3]);
      const Tensor x = random_cpu(s), gy = random_cpu(s);
      const Tensor matg = to_gpu(mat);
      poison_cache(s);
      check_close(gpu().warp_affine_forward(to_gpu(x), matg), cpu().warp_affine_forward(x, mat),
                  kFloat32Rounding, what + " forward");
      poison_cache(s);
      const Tensor adj = gpu().warp_affine_backward(to_gpu(gy), matg);
      check_close(adj, cpu().warp_affine_backward(gy, mat), kFloat32Rounding, what + " adjoint");
      CHECK_MESSAGE(same_bits(adj, gpu().warp_affine_backward(to_gpu(gy), matg)),
                    what, ": adjoint not bitwise repeatable");
      poison_cache({s[0], 1, s[2], s[3]});
      const Tensor mask = gpu().warp_valid_mask(matg, s[0], s[2], s[3]);
      CHECK_MESSAGE(same_bits(mask, cpu().warp_valid_mask(mat, s[0], s[2], s[3])), what,
                    ": valid mask differs");
    }
  }
}

TEST_CASE("gpu warp: adjoint identity <W u, v> = <u, W^T v> in float32") {
  GpuCase gpu_case;
  for (const char* kind : {"table1", "strong"}) {
    const Shape s{4, 3, 48, 64};
    const Tensor mat = to_gpu(matrices(kind, s[0], s[2], s[3]));
    const Tensor u = to_gpu(random_cpu(s)), v = to_gpu(random_cpu(s));
    const double lhs = dot(gpu().warp_affine_forward(u, mat), v);
    const double rhs = dot(u, gpu().warp_affine_backward(v, mat));
    INFO(kind, ": ", lhs, " vs ", rhs);
    CHECK(std::abs(lhs - rhs) <= 1e-5 * std::max(std::abs(lhs), std::abs(rhs)));
  }
}

TEST_CASE("gpu reg_loss: each fused loss against the CPU, with and without a mask") {
  GpuCase gpu_case;
  const Shape shapes[] = {{1, 1, 6, 5}, {3, 3, 17, 23}, {16, 3, 128, 128}};
  const RegKind kinds[] = {RegKind::Stability, RegKind::TransInv, RegKind::Jacobian,
                           RegKind::Augment};
  for (const Shape& s : shapes) {
    for (RegKind kind : kinds) {
      for (bool with_mask : {false, true}) {
        const std::string what = "kind " + std::to_string(static_cast<int>(kind)) +
                                 (with_mask ? " masked " : " ") + shape_str(s);
        const Tensor fx = random_cpu(s), ftx = random_cpu(s), y = random_cpu(s);
        const Tensor mask = with_mask ? random_cpu({s[0], 1, s[2], s[3]}, 0.0, 1.0) : Tensor();
        const Tensor mat = matrices("table1x4", s[0], s[2], s[3]);
        const RegLoss want = cpu().reg_loss(kind, fx, ftx, y, mat, mask);
        poison_cache(s);
        const RegLoss got = gpu().reg_loss(kind, to_gpu(fx), to_gpu(ftx), to_gpu(y), to_gpu(mat),
                                           with_mask ? to_gpu(mask) : Tensor());
        const double a = got.loss.item(), b = want.loss.item();
        INFO(what, ": loss ", a, " vs ", b);
        CHECK(std::abs(a - b) <= 1e-6 * std::abs(b));
        check_close(got.grad_fx, want.grad_fx, kFloat32Rounding, what + " grad_fx");
        check_close(got.grad_ftx, want.grad_ftx, kFloat32Rounding, what + " grad_ftx");
        const RegLoss again = gpu().reg_loss(kind, to_gpu(fx), to_gpu(ftx), to_gpu(y),
                                             to_gpu(mat), with_mask ? to_gpu(mask) : Tensor());
        const bool repeatable = same_bits(again.loss, got.loss) &&
                                same_bits(again.grad_fx, got.grad_fx) &&
                                same_bits(again.grad_ftx, got.grad_ftx);
        CHECK_MESSAGE(repeatable, what, ": not bitwise repeatable");
      }
    }
  }
}

TEST_CASE("gpu regularizers: every mode, fused equals composed, and the GPU equals the CPU") {
  GpuCase gpu_case;
  const int64_t B = 2, C = 3, H = 16, W = 20;
  const Tensor x = random_cpu({B, C, H, W}), y = random_cpu({B, C, H, W});
  const Tensor mask = random_cpu({B, 1, H, W}, 0.0, 1.0);
  const Tensor w1 = random_cpu({4, C, 3, 3}, -0.4, 0.4), w2 = random_cpu({C, 4, 3, 3}, -0.4, 0.4);
  const RegMode modes[] = {RegMode::None,      RegMode::Augment,  RegMode::StabilityNoise,
                           RegMode::Stability, RegMode::TransInv, RegMode::Jacobian};
  struct Result {
    double total, reg;
    std::vector<double> g1, g2;
  };
  auto run = [&](Device dev, RegMode mode, bool fused) {
    Var v1(w1.to(dev), true), v2(w2.to(dev), true);
    auto net = [&](const Var& in) {
      return conv2d(steady::tanh(conv2d(in, v1, Var(), 1, 1)), v2, Var(), 1, 1);
    };
    Var target(y.to(dev));
    auto rec = [&](const Var& pred) { return mse(pred, target); };
    RegConfig cfg;
    cfg.mode = mode;
    cfg.alpha = 0.7;
    cfg.fused = fused;
    Rng r(123);
    RegularizedLoss l = regularized_loss(cfg, Var(x.to(dev)), y.to(dev), mask.to(dev), net, rec, r);
    backward(l.total);
    return Result{l.total.value().item(), l.reg.item(), v1.grad().to_host(), v2.grad().to_host()};
  };
  auto rel = [](const std::vector<double>& a, const std::vector<double>& b) {
    double num = 0, den = 1e-30;
    for (size_t i = 0; i < a.size(); ++i)
      num = std::max(num, std::abs(a[i] - b[i])), den = std::max(den, std::abs(b[i]));
    return num / den;
  };
  for (RegMode mode : modes) {
    INFO(reg_mode_name(mode));
    const Result f = run(Device::CUDA, mode, true), c = run(Device::CUDA, mode, false);
    const Result cpu_ref = run(Device::CPU, mode, true);
    CHECK(std::abs(f.total - c.total) <= 1e-5 * std::abs(c.total));
    CHECK(std::abs(f.reg - c.reg) <= 1e-5 * std::abs(c.reg) + 1e-12);
    CHECK(rel(f.g1, c.g1) <= 1e-5);
    CHECK(rel(f.g2, c.g2) <= 1e-5);
    CHECK(std::abs(f.total - cpu_ref.total) <= 1e-5 * std::abs(cpu_ref.total));
    CHECK(rel(f.g1, cpu_ref.g1) <= 1e-4);
    CHECK(rel(f.g2, cpu_ref.g2) <= 1e-4);
  }
}
