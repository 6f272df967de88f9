// The fused regularization losses and the six --reg modes on the CPU: the fused kernel against
// the formulas on a naive warp, finite differences in double (directly on fx, ftx and through a
// tiny network via the entry point), fused against composed for every mode with and without the
// HDR mask, alpha = 0 against plain reconstruction, an identity transform giving zero L_reg, and
// the entry point's mask rule, validity and normalization recomputed on the host.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/backend.h"
#include "engine/ops.h"
#include "engine/rng.h"
#include "losses/regularizers.h"
#include "losses/transform.h"
#include "warp_reference.h"

using namespace steady;

namespace {

const RegKind kKinds[] = {RegKind::Stability, RegKind::TransInv, RegKind::Jacobian,
                          RegKind::Augment};
const RegMode kModes[] = {RegMode::None,      RegMode::Augment,  RegMode::StabilityNoise,
                          RegMode::Stability, RegMode::TransInv, RegMode::Jacobian};

Tensor random_tensor(const Shape& shape, Rng& rng, DType dtype, double lo = -1, double hi = 1) {
  std::vector<double> v(shape_numel(shape));
  for (double& x : v) x = rng.uniform(lo, hi);
  return Tensor::from_vector(v, shape, Device::CPU, dtype);
}

// max |a - b| / max(max |b|, floor)
double rel_diff(const std::vector<double>& a, const std::vector<double>& b, double floor = 1e-30) {
  REQUIRE(a.size() == b.size());
  double num = 0, den = floor;
  for (size_t i = 0; i < a.size(); ++i) {
    num = std::max(num, std::abs(a[i] - b[i]));
    den = std::max(den, std::abs(b[i]));
  }
  return num / den;
}

double rel_diff(double a, double b) { return std::abs(a - b) / std::max(std::abs(b), 1e-300); }

// A soft HDR-style mask in [0, 1] with exact zeros and ones.
Tensor random_mask(const Shape& shape, Rng& rng, DType dtype) {
  std::vector<double> v(shape_numel(shape));
  for (double& x : v) x = std::min(1.0, std::max(0.0, rng.uniform(-0.5, 1.5)));
  return Tensor::from_vector(v, shape, Device::CPU, dtype);
}

// A tiny per-sample network (no batch norm, so a sample's output does not depend on the rest of
// the batch): conv 3x3 -> tanh -> conv 3x3.
struct TinyNet {
  Var w1, b1, w2, b2;
  TinyNet(int64_t cin, int64_t cout, DType dt, uint64_t seed) {
    Rng rng(seed);
    w1 = Var(random_tensor({4, cin, 3, 3}, rng, dt, -0.4, 0.4), true);
    b1 = Var(random_tensor({4}, rng, dt, -0.1, 0.1), true);
    w2 = Var(random_tensor({cout, 4, 3, 3}, rng, dt, -0.4, 0.4), true);
    b2 = Var(random_tensor({cout}, rng, dt, -0.1, 0.1), true);
  }
  Var operator()(const Var& x) const {
    return conv2d(steady::tanh(conv2d(x, w1, b1, 1, 1)), w2, b2, 1, 1);
  }
  std::vector<Var> params() const { return {w1, b1, w2, b2}; }
};

struct Problem {
  int64_t B = 3, Cin = 2, Cout = 2, H = 9, W = 10;
  DType dt;
  Tensor x, y, mask;
  explicit Problem(DType dtype, bool with_mask, uint64_t seed = 5) : dt(dtype) {
    Rng rng(seed);
    x = random_tensor({B, Cin, H, W}, rng, dt);
    y = random_tensor({B, Cout, H, W}, rng, dt);
    if (with_mask) mask = random_mask({B, 1, H, W}, rng, dt);
  }
};

struct Outcome {
  double total, rec, reg;
  std::vector<std::vector<double>> grads;  // per parameter
};

Outcome run(const Problem& p, TinyNet& net, RegMode mode, bool fused, double alpha,
            double transform_scale = 1.0, uint64_t seed = 99) {
  for (const Var& v : net.params()) v.grad() = Tensor();
  RegConfig cfg;
  cfg.mode = mode;
  cfg.alpha = alpha;
  cfg.fused = fused;
  cfg.transform_scale = transform_scale;
  Rng rng(seed);
  Var target(p.y);
  auto rec = [&](const Var& pred) { return mse(pred, target); };
  RegularizedLoss l = regularized_loss(cfg, Var(p.x), p.y, p.mask, std::ref(net), rec, rng);
  backward(l.total);
  Outcome o{l.total.value().item(), l.rec.item(), l.reg.item(), {}};
  for (const Var& v : net.params()) {
    REQUIRE(v.grad().defined());
    o.grads.push_back(v.grad().to_host());
  }
  return o;
}

}  // namespace

TEST_CASE("reg_loss: fused kernel equals the formulas on a naive warp") {
  Rng rng(21);
  Backend& be = cpu_backend();
  const int64_t N = 3, C = 3, H = 10, W = 12;
  for (DType dt : {DType::F64, DType::F32}) {
    for (bool with_mask : {false, true}) {
      for (RegKind kind : kKinds) {
        Tensor fx = random_tensor({N, C, H, W}, rng, dt), ftx = random_tensor({N, C, H, W}, rng, dt);
        Tensor y = random_tensor({N, C, H, W}, rng, dt);
        Tensor mask = with_mask ? random_mask({N, 1, H, W}, rng, dt) : Tensor();
        Tensor mat = random_transform_matrices(N, H, W, 2.0, rng, Device::CPU, dt);
        RegLoss got = be.reg_loss(kind, fx, ftx, y, mat, mask);
        warp_reference::Loss want = warp_reference::reg_loss(
            static_cast<int>(kind), fx.to_host(), ftx.to_host(), y.to_host(), mat.to_host(),
            with_mask ? mask.to_host() : std::vector<double>(), N, C, H, W);
        const double tol = dt == DType::F64 ? 1e-12 : 2e-6;
        CAPTURE(static_cast<int>(kind));
        CAPTURE(with_mask);
        CHECK(want.value > 0);
        CHECK(rel_diff(got.loss.item(), want.value) <= tol);
        CHECK(rel_diff(got.grad_fx.to_host(), want.grad_fx) <= tol);
        CHECK(rel_diff(got.grad_ftx.to_host(), want.grad_ftx) <= tol);
      }
    }
  }
}

TEST_CASE("reg_loss: gradients agree with finite differences in double") {
  Rng rng(22);
  Backend& be = cpu_backend();
  const int64_t N = 2, C = 2, H = 7, W = 8;
  for (RegKind kind : kKinds) {
    Tensor fx = random_tensor({N, C, H, W}, rng, DType::F64);
    Tensor ftx = random_tensor({N, C, H, W}, rng, DType::F64);
    Tensor y = random_tensor({N, C, H, W}, rng, DType::F64);
    Tensor mask = random_mask({N, 1, H, W}, rng, DType::F64);
    Tensor mat = random_transform_matrices(N, H, W, 1.5, rng, Device::CPU, DType::F64);
    RegLoss r = be.reg_loss(kind, fx, ftx, y, mat, mask);
    const double h = 1e-6;
    double worst = 0, scale = 0;
    for (Tensor* t : {&fx, &ftx}) {
      std::vector<double> analytic = (t == &fx ? r.grad_fx : r.grad_ftx).to_host();
      double* p = t->data<double>();
      for (int64_t i = 0; i < t->numel(); ++i) {
        const double saved = p[i];
        p[i] = saved + h;
        const double up = be.reg_loss(kind, fx, ftx, y, mat, mask).loss.item();
        p[i] = saved - h;
        const double down = be.reg_loss(kind, fx, ftx, y, mat, mask).loss.item();
        p[i] = saved;
        worst = std::max(worst, std::abs((up - down) / (2 * h) - analytic[i]));
        scale = std::max(scale, std::abs(analytic[i]));
      }
    }
    CAPTURE(static_cast<int>(kind));
    CHECK(scale > 0);
    CHECK(worst <= 1e-8 * std::max(1.0, scale));
  }
}

TEST_CASE("regularizers: every mode, fused equals composed (value and gradients)") {
  for (DType dt : {DType::F32, DType::F64}) {
    for (bool with_mask : {false, true}) {
      Problem p(dt, with_mask);
      TinyNet net(p.Cin, p.Cout, dt, 3);
      for (RegMode mode : kModes) {
        Outcome fused = run(p, net, mode, true, 0.7);
        Outcome composed = run(p, net, mode, false, 0.7);
        const double tol = dt == DType::F64 ? 1e-12 : 1e-5;
        CAPTURE(reg_mode_name(mode));
        CAPTURE(with_mask);
        CAPTURE(dt == DType::F64);
        if (mode != RegMode::None) CHECK(composed.reg > 0);
        CHECK(rel_diff(fused.total, composed.total) <= tol);
        CHECK(rel_diff(fused.reg + 1e-300, composed.reg + 1e-300) <= tol);
        for (size_t k = 0; k < fused.grads.size(); ++k)
          CHECK(rel_diff(fused.grads[k], composed.grads[k]) <= tol);
      }
    }
  }
}

TEST_CASE("regularizers: finite differences through the network in double, every mode") {
  Problem p(DType::F64, true);
  TinyNet net(p.Cin, p.Cout, DType::F64, 4);
  for (RegMode mode : kModes) {
    for (bool fused : {true, false}) {
      Outcome base = run(p, net, mode, fused, 0.6);
      const double h = 1e-6;
      double worst = 0, scale = 0;
      std::vector<Var> params = net.params();
      for (size_t k = 0; k < params.size(); ++k) {
        double* v = params[k].node()->value.data<double>();
        // every bias entry and a spread of weights
        const int64_t n = params[k].value().numel(), step = n > 8 ? 7 : 1;
        for (int64_t i = 0; i < n; i += step) {
          const double saved = v[i];
          v[i] = saved + h;
          const double up = run(p, net, mode, fused, 0.6).total;
          v[i] = saved - h;
          const double down = run(p, net, mode, fused, 0.6).total;
          v[i] = saved;
          worst = std::max(worst, std::abs((up - down) / (2 * h) - base.grads[k][i]));
          scale = std::max(scale, std::abs(base.grads[k][i]));
        }
      }
      CAPTURE(reg_mode_name(mode));
      CAPTURE(fused);
      CHECK(scale > 0);
      CHECK(worst <= 1e-7 * std::max(1.0, scale));
    }
  }
}

TEST_CASE("regularizers: alpha = 0 equals plain reconstruction") {
  Problem p(DType::F64, true);
  TinyNet net(p.Cin, p.Cout, DType::F64, 6);
  // Plain reconstruction: L_rec(f(x)) alone.
  for (const Var& v : net.params()) v.grad() = Tensor();
  Var plain = mse(net(Var(p.x)), Var(p.y));
  backward(plain);
  std::vector<std::vector<double>> plain_grads;
  for (const Var& v : net.params()) plain_grads.push_back(v.grad().to_host());
  for (RegMode mode : kModes) {
    for (bool fused : {true, false}) {
      Outcome o = run(p, net, mode, fused, 0.0);
      CAPTURE(reg_mode_name(mode));
      CHECK(rel_diff(o.total, plain.value().item()) <= 1e-12);
      for (size_t k = 0; k < plain_grads.size(); ++k)
        CHECK(rel_diff(o.grads[k], plain_grads[k]) <= 1e-12);
    }
  }
}

TEST_CASE("regularizers: the identity transform gives zero L_reg for stability-like modes") {
  for (bool with_mask : {false, true}) {
    Problem p(DType::F64, with_mask);
    TinyNet net(p.Cin, p.Cout, DType::F64, 7);
    for (RegMode mode : {RegMode::Stability, RegMode::TransInv, RegMode::Jacobian}) {
      for (bool fused : {true, false}) {
        Outcome o = run(p, net, mode, fused, 0.5, /*transform_scale=*/0.0);
        CAPTURE(reg_mode_name(mode));
        CHECK(std::abs(o.reg) <= 1e-28);
        CHECK(o.rec > 0);
      }
    }
    // ...while a real transform gives a positive one, and augment with the identity is the
    // (masked) reconstruction error, not zero.
    CHECK(run(p, net, RegMode::Stability, true, 0.5, 1.0).reg > 1e-8);
    CHECK(run(p, net, RegMode::Augment, true, 0.5, 0.0).reg > 1e-3);
  }
}

TEST_CASE("regularizers: the entry point's mask rule, validity and normalization") {
  // Recompute L_reg on the host from the same draws: the matrices are the first thing the entry
  // point takes from the generator, and the tiny network is per-sample, so f(x) and f(T(x)) can
  // be evaluated on their own.
  Problem p(DType::F64, true);
  TinyNet net(p.Cin, p.Cout, DType::F64, 8);
  const int64_t B = p.B, C = p.Cout, H = p.H, W = p.W, HW = H * W;
  for (RegMode mode : {RegMode::Augment, RegMode::Stability, RegMode::TransInv, RegMode::Jacobian}) {
    Rng rng(99);
    Tensor mat = random_transform_matrices(B, H, W, 3.0, rng, Device::CPU, DType::F64);
    std::vector<double> m = mat.to_host();
    std::vector<double> fx, ftx;
    {
      NoGradGuard no_grad;
      fx = net(Var(p.x)).value().to_host();
      ftx = net(Var(cpu_backend().warp_affine_forward(p.x, mat))).value().to_host();
    }
    std::vector<double> hdr = p.mask.to_host(), thdr = warp_reference::warp(hdr, m, B, 1, H, W);
    std::vector<double> valid = warp_reference::valid(m, B, H, W);
    std::vector<double> wt(B * HW);
    for (int64_t i = 0; i < B * HW; ++i) {
      double rule = mode == RegMode::Stability ? hdr[i]
                    : mode == RegMode::Jacobian ? std::max(hdr[i], thdr[i])
                                                : thdr[i];
      wt[i] = rule * valid[i];
    }
    const int kind = mode == RegMode::Stability ? 0 : mode == RegMode::TransInv ? 1
                     : mode == RegMode::Jacobian ? 2 : 3;
    double want = warp_reference::reg_loss(kind, fx, ftx, p.y.to_host(), m, wt, B, C, H, W).value;
    for (bool fused : {true, false}) {
      Outcome o = run(p, net, mode, fused, 0.5, 3.0, 99);
      CAPTURE(reg_mode_name(mode));
      CHECK(rel_diff(o.reg, want) <= 1e-10);
    }
  }
}

TEST_CASE("regularizers: stability-noise perturbs with sigma in [0.01, 0.04]") {
  // With f the identity, L_reg = mean(noise^2) over everything, which must lie between
  // 0.01^2 and 0.04^2 (and well inside for many pixels).
  Problem p(DType::F64, false);
  p.H = 32, p.W = 32;
  Rng r(1);
  p.x = random_tensor({p.B, p.Cin, p.H, p.W}, r, DType::F64);
  p.y = random_tensor({p.B, p.Cin, p.H, p.W}, r, DType::F64);
  RegConfig cfg;
  cfg.mode = RegMode::StabilityNoise;
  cfg.alpha = 0.5;
  Rng rng(3);
  auto identity = [](const Var& v) { return v; };
  auto rec = [&](const Var& pred) { return mse(pred, Var(p.y)); };
  RegularizedLoss l = regularized_loss(cfg, Var(p.x), p.y, Tensor(), identity, rec, rng);
  CHECK(l.reg.item() > 0.01 * 0.01 * 0.9);
  CHECK(l.reg.item() < 0.04 * 0.04 * 1.1);
}
