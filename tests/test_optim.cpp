// Adam (kernels/adam.cpp through CpuBackend::adam_step, and the Adam class of engine/params.h)
// against the update written out by hand here in double: PyTorch's Adam with bias correction,
// weight decay decoupled as in AdamW (p -= lr*wd*p before the Adam update).
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "engine/backend.h"
#include "engine/params.h"
#include "engine/rng.h"

using namespace steady;

namespace {

// The textbook update, independent of the kernel's arithmetic (no folded constants).
struct HandAdam {
  std::vector<double> p, m, v;
  void step(const std::vector<double>& g, const AdamArgs& a) {
    const double b1 = a.beta1, b2 = a.beta2, lr = a.lr, eps = a.eps, wd = a.weight_decay;
    const double t = static_cast<double>(a.step);
    for (size_t i = 0; i < p.size(); ++i) {
      p[i] = p[i] - lr * wd * p[i];
      m[i] = b1 * m[i] + (1 - b1) * g[i];
      v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
      double mhat = m[i] / (1 - std::pow(b1, t));
      double vhat = v[i] / (1 - std::pow(b2, t));
      p[i] = p[i] - lr * mhat / (std::sqrt(vhat) + eps);
    }
  }
};

const std::vector<double> kP0{0.5, -1.0, 2.0, 0.0, 3.0};
const std::vector<std::vector<double>> kGrads{{0.1, -0.2, 0.3, 0.0, -4.0},
                                              {-0.05, -0.1, 0.25, 0.0, 2.0},
                                              {0.2, 0.3, -0.1, 0.0, 0.5},
                                              {0.0, 0.01, 0.2, 0.0, -1.0}};

void run_and_compare(DType dtype, float weight_decay, double tol) {
  AdamArgs args;
  args.lr = 0.01f;
  args.weight_decay = weight_decay;
  const int64_t n = static_cast<int64_t>(kP0.size());
  Tensor p = Tensor::from_vector(kP0, {n}, Device::CPU, dtype);
  Tensor m = Tensor::zeros({n}, Device::CPU, dtype), v = Tensor::zeros({n}, Device::CPU, dtype);
  HandAdam ref{kP0, std::vector<double>(n, 0.0), std::vector<double>(n, 0.0)};
  for (size_t s = 0; s < kGrads.size(); ++s) {
    CAPTURE(s);
    args.step = static_cast<int64_t>(s) + 1;
    Tensor g = Tensor::from_vector(kGrads[s], {n}, Device::CPU, dtype);
    cpu_backend().adam_step(p, g, m, v, args);
    ref.step(kGrads[s], args);
    std::vector<double> pv = p.to_host(), mv = m.to_host(), vv = v.to_host();
    for (int64_t i = 0; i < n; ++i) {
      CAPTURE(i);
      CHECK(pv[i] == doctest::Approx(ref.p[i]).epsilon(tol).scale(1.0));
      CHECK(mv[i] == doctest::Approx(ref.m[i]).epsilon(tol).scale(1.0));
      CHECK(vv[i] == doctest::Approx(ref.v[i]).epsilon(tol).scale(1.0));
    }
  }
}

}  // namespace

TEST_CASE("adam: the first step moves each weight by lr against the gradient's sign, with and "
          "without decoupled weight decay") {
  // At t = 1, mhat = g and vhat = g^2, so the step is lr * g / (|g| + eps): about lr * sign(g),
  // and exactly 0 where g = 0 (no 0/0). Weight decay first scales p0 by (1 - lr wd).
  for (float weight_decay : {0.f, 0.5f}) {
    CAPTURE(weight_decay);
    AdamArgs a;
    a.lr = 0.01f;
    a.weight_decay = weight_decay;
    a.step = 1;
    Tensor p = Tensor::from_vector(kP0, {5});
    Tensor g = Tensor::from_vector(kGrads[0], {5});
    Tensor m = Tensor::zeros({5}, Device::CPU, DType::F64), v = m.clone();
    cpu_backend().adam_step(p, g, m, v, a);
    std::vector<double> pv = p.to_host();
    const double lr = a.lr, eps = a.eps, wd = a.weight_decay;
    for (size_t i = 0; i < kP0.size(); ++i) {
      double gi = kGrads[0][i];
      CHECK(pv[i] ==
            doctest::Approx(kP0[i] * (1 - lr * wd) - lr * gi / (std::abs(gi) + eps)).epsilon(1e-14));
    }
    if (weight_decay == 0.f) {
      CHECK(pv[3] == 0.0);
      CHECK(pv[0] == doctest::Approx(0.49).epsilon(1e-6));
      CHECK(pv[1] == doctest::Approx(-0.99).epsilon(1e-6));
    } else {
      CHECK(pv[4] == doctest::Approx(3.0 * 0.995 + 0.01).epsilon(1e-6));  // g = -4: step +lr
    }
  }
}

TEST_CASE("adam: four steps against the hand-written update, float64 and float32") {
  run_and_compare(DType::F64, 0.f, 1e-13);
  run_and_compare(DType::F64, 0.1f, 1e-13);
  run_and_compare(DType::F32, 0.f, 2e-6);
  run_and_compare(DType::F32, 0.1f, 2e-6);
}

TEST_CASE("adam: updates a view inside a flat buffer and nothing around it") {
  AdamArgs a;
  a.step = 1;
  Tensor flat = Tensor::full({7}, 1.0);
  Tensor p = flat.view(2, {3});
  Tensor g = Tensor::full({3}, 0.5), m = Tensor::zeros({3}), v = Tensor::zeros({3});
  cpu_backend().adam_step(p, g, m, v, a);
  std::vector<double> fv = flat.to_host();
  CHECK(fv[0] == 1.0);
  CHECK(fv[1] == 1.0);
  CHECK(fv[5] == 1.0);
  CHECK(fv[6] == 1.0);
  CHECK(fv[2] == doctest::Approx(1.0 - 1e-3).epsilon(1e-6));
}

TEST_CASE("adam: the Adam class counts steps from 1") {
  ParamStore store;
  store.add_param("w", {2, 3}, Init::Zeros);
  store.add_param("b", {3}, Init::Ones);
  Rng rng(1);
  store.finalize(Device::CPU, rng);
  AdamArgs args;
  args.lr = 0.05f;
  args.weight_decay = 0.01f;
  Adam adam(args);
  adam.attach(store);
  const int64_t n = store.num_trainable();
  HandAdam ref{store.values.to_host(), std::vector<double>(n, 0.0), std::vector<double>(n, 0.0)};
  for (int s = 1; s <= 3; ++s) {
    std::vector<double> g(n);
    for (int64_t i = 0; i < n; ++i) g[i] = std::sin(1.0 + i + 10.0 * s);
    store.grads.copy_from(Tensor::from_vector(g, {n}, Device::CPU, DType::F32));
    adam.step(store);
    CHECK(adam.steps() == s);
    AdamArgs a = args;
    a.step = s;
    ref.step(std::vector<double>(store.grads.to_host()), a);
  }
  std::vector<double> pv = store.values.to_host();
  for (int64_t i = 0; i < n; ++i) CHECK(pv[i] == doctest::Approx(ref.p[i]).epsilon(2e-6));
}

TEST_CASE("adam: mismatched buffers and step 0 are errors") {
  AdamArgs a;
  Tensor p = Tensor::zeros({4}), g = Tensor::zeros({4}), m = Tensor::zeros({4});
  Tensor v_short = Tensor::zeros({3});
  CHECK_THROWS_WITH_AS(cpu_backend().adam_step(p, g, m, v_short, a), doctest::Contains("adam_step"),
                       Error);
  Tensor g64 = Tensor::zeros({4}, Device::CPU, DType::F64);
  Tensor v = Tensor::zeros({4});
  CHECK_THROWS_AS(cpu_backend().adam_step(p, g64, m, v, a), Error);
  a.step = 0;
  CHECK_THROWS_WITH_AS(cpu_backend().adam_step(p, g, m, v, a), doctest::Contains("step"), Error);
}
