// Helpers of the CUDA-against-CPU op tests (in the style of ggml's test-backend-ops): fresh random
// inputs, the normalized squared error sum((a-b)^2)/sum(b^2), NaN/Inf checks, poisoned outputs and
// guard values around buffers.
//
// Poisoning: ops that allocate their outputs get them from the caching allocator, which hands out
// the most recently freed block of the same bucket; poison_cache() allocates a few blocks of the
// output's size, fills them with NaN and frees them, so an output element the kernel forgets to
// write stays NaN. Ops that write into a given tensor get it NaN-filled first.
// Guards: Guarded puts a tensor inside a larger buffer with sentinel values before and after it;
// check_guards() fails when an op wrote outside its tensor. On top of that, every test case runs
// with the allocator's own guard bytes after each block (GpuCase), which catch overruns of the
// outputs the ops allocate themselves.
#pragma once
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "engine/backend.h"
#include "engine/cuda/allocator.h"
#include "engine/rng.h"

namespace gpu_check {

using namespace steady;

inline Backend& cpu() { return cpu_backend(); }
inline Backend& gpu() { return cuda_backend(); }

// One generator for the whole binary: every draw is fresh, the run is reproducible, and
// STEADY_TEST_SEED picks another sequence.
inline Rng& rng() {
  static Rng r([] {
    const char* s = std::getenv("STEADY_TEST_SEED");
    return s ? std::strtoull(s, nullptr, 10) : 20190616ull;
  }());
  return r;
}

// A CPU float32 tensor of uniform values in [lo, hi).
inline Tensor random_cpu(const Shape& shape, double lo = -1.0, double hi = 1.0) {
  std::vector<float> v(static_cast<size_t>(shape_numel(shape)));
  for (float& x : v) x = static_cast<float>(rng().uniform(lo, hi));
  return Tensor::from_vector(v, shape, Device::CPU);
}

inline Tensor to_gpu(const Tensor& t) { return t.to(Device::CUDA); }

// Fills the allocator's cache for a coming allocation of `numel` floats with NaN blocks.
inline void poison_cache(int64_t numel, int blocks = 3) {
  std::vector<Tensor> held;
  for (int i = 0; i < blocks; ++i) {
    held.push_back(Tensor::empty({numel}, Device::CUDA));
    gpu().fill(held.back(), std::numeric_limits<double>::quiet_NaN());
  }
}  // freed here: the next allocations of this size get NaN blocks

inline void poison_cache(const Shape& shape, int blocks = 3) {
  poison_cache(shape_numel(shape), blocks);
}

// sum((got - want)^2) / sum(want^2); infinity when got has a NaN or Inf where want is finite.
// When want is all zeros, got must be too (0, else infinity).
inline double normalized_error(const Tensor& got, const Tensor& want) {
  REQUIRE_MESSAGE(got.shape() == want.shape(), "shapes differ: ", got.str(), " vs ", want.str());
  const std::vector<double> a = got.to_host(), b = want.to_host();
  double num = 0.0, den = 0.0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::isfinite(b[i]) && !std::isfinite(a[i]))
      return std::numeric_limits<double>::infinity();
    num += (a[i] - b[i]) * (a[i] - b[i]);
    den += b[i] * b[i];
  }
  if (den == 0.0) return num == 0.0 ? 0.0 : std::numeric_limits<double>::infinity();
  return num / den;
}

// Tolerances of the aggregate comparison: float32 ops whose CUDA and CPU twins compute the same
// expression (transcendentals may still differ by an ulp or two: CUDA's expf and tanhf are not
// correctly rounded), and convolutions (cuDNN sums in another order). Ops that claim the same
// bits as the CPU (data movement, single IEEE operations) are checked with check_same_bits.
constexpr double kFloat32Rounding = 1e-10;
constexpr double kConv = 1e-8;

inline void check_close(const Tensor& got, const Tensor& want, double tol,
                        const std::string& what) {
  const double err = normalized_error(got, want);
  INFO(what, ": normalized squared error ", err, " (tolerance ", tol, ")");
  CHECK(err <= tol);
}

// Bitwise equality of two tensors (any devices).
inline bool same_bits(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape()) return false;
  const std::vector<double> x = a.to_host(), y = b.to_host();
  for (size_t i = 0; i < x.size(); ++i) {
    const bool both_nan = std::isnan(x[i]) && std::isnan(y[i]);
    if (!both_nan && x[i] != y[i]) return false;
  }
  return true;
}

// The largest distance in units in the last place between two float32 tensors (NaN against
// NaN is 0; NaN against a number is the maximum).
inline int64_t max_ulps(const Tensor& got, const Tensor& want) {
  REQUIRE_MESSAGE(got.shape() == want.shape(), "shapes differ: ", got.str(), " vs ", want.str());
  const std::vector<double> a = got.to_host(), b = want.to_host();
  int64_t worst = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const float x = static_cast<float>(a[i]), y = static_cast<float>(b[i]);
    if (std::isnan(x) || std::isnan(y)) {
      if (std::isnan(x) != std::isnan(y)) return std::numeric_limits<int64_t>::max();
      continue;
    }
    int32_t ix, iy;
    std::memcpy(&ix, &x, 4);
    std::memcpy(&iy, &y, 4);
    // Map the sign-magnitude bits onto a line where neighbouring floats are 1 apart.
    const int64_t lx = ix < 0 ? int64_t(INT32_MIN) - ix : ix;
    const int64_t ly = iy < 0 ? int64_t(INT32_MIN) - iy : iy;
    worst = std::max(worst, lx > ly ? lx - ly : ly - lx);
  }
  return worst;
}

// The same bits as the CPU: 0 ulps everywhere.
inline void check_same_bits(const Tensor& got, const Tensor& want, const std::string& what) {
  const int64_t ulps = max_ulps(got, want);
  INFO(what, ": largest difference ", ulps, " ulps (the same bits are claimed)");
  CHECK(ulps == 0);
}

// A CUDA tensor that is a view into a larger buffer, with sentinel values on both sides.
struct Guarded {
  static constexpr int64_t kGuard = 67;  // odd, so the view is not 16-byte aligned either
  static constexpr float kSentinel = -12345.625f;
  Tensor buffer, view;

  explicit Guarded(const Tensor& values) {
    const int64_t n = values.numel();
    std::vector<float> host(static_cast<size_t>(n + 2 * kGuard), kSentinel);
    const std::vector<double> v = values.to_host();
    for (int64_t i = 0; i < n; ++i) host[kGuard + i] = static_cast<float>(v[i]);
    buffer = Tensor::from_vector(host, {n + 2 * kGuard}, Device::CUDA);
    view = buffer.view(kGuard, values.shape());
  }

  void check_guards(const std::string& what) const {
    const std::vector<double> host = buffer.to_host();
    const int64_t n = view.numel();
    int64_t damaged = 0;
    for (int64_t i = 0; i < kGuard; ++i) {
      damaged += host[i] != kSentinel;
      damaged += host[kGuard + n + i] != kSentinel;
    }
    INFO(what, ": ", damaged, " guard values overwritten");
    CHECK(damaged == 0);
  }
};

// Put at the top of each test case: turns on the allocator's guard bytes and checks, when the
// case ends (after its tensors are freed), that no block was overrun and no CUDA error is pending.
struct GpuCase {
  int64_t violations_before;
  GpuCase() {
    cuda::set_guard_checks(true);
    violations_before = cuda::allocator_stats().guard_violations;
  }
  ~GpuCase() {
    try {
      gpu().synchronize();
    } catch (const Error& e) {
      CHECK_MESSAGE(false, "CUDA error at the end of the case: ", e.what());
    }
    const int64_t now = cuda::allocator_stats().guard_violations;
    INFO("allocator guard: ", cuda::first_guard_violation());
    CHECK(now == violations_before);
  }
};

}  // namespace gpu_check
