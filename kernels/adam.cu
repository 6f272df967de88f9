// Adam over the flat parameter buffer on CUDA, float32 storage, double arithmetic: one fused
// kernel that updates params, m and v in place, one thread per element, with PyTorch's
// bias correction and decoupled weight decay (AdamW), at step t (1-based):
//   m = b1 m + (1 - b1) g,  v = b2 v + (1 - b2) g^2,  p = p (1 - lr wd)
//   p -= lr/(1 - b1^t) * m / (sqrt(v)/sqrt(1 - b2^t) + eps)
// The two step-dependent factors come from a tiny schedule kernel that keeps the step on the
// device, one counter per optimizer (AdamArgs::optimizer_id). Outside a CUDA-graph capture the
// schedule is set to the host's AdamArgs::step; inside a capture it is recorded as "previous
// step + 1", so every replay of a captured training step advances the bias correction like an
// uncaptured step would (the host's step number is frozen into a captured graph). lr, betas, eps
// and weight decay are frozen into a captured graph as any kernel argument is.
// CPU twin: kernels/adam.cpp (same expression order; products rounded on their own with
// __dmul_rn so no FMA changes the double rounding). Tested by tests/gpu_ops (several steps
// against the CPU on random data, with and without weight decay, buffers as views with guard
// values around them) and tests/gpu_engine (captured and uncaptured training steps agree).
#include <cmath>
#include <mutex>
#include <unordered_map>

#include "engine/cuda/allocator.h"
#include "engine/cuda/launch.cuh"
#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/runtime.h"

namespace steady {

namespace {

constexpr int kThreads = 256;

struct AdamSchedule {
  int64_t step;
  double step_size;     // lr / (1 - b1^t)
  double inv_sqrt_bc2;  // 1 / sqrt(1 - b2^t)
};

// set_step >= 1: the step is set_step; 0: the step after the stored one.
__global__ void adam_schedule_kernel(AdamSchedule* s, int64_t set_step, double lr, double b1,
                                     double b2) {
  const int64_t t = set_step >= 1 ? set_step : s->step + 1;
  s->step = t;
  s->step_size = lr / (1.0 - pow(b1, static_cast<double>(t)));
  s->inv_sqrt_bc2 = 1.0 / sqrt(1.0 - pow(b2, static_cast<double>(t)));
}

__global__ void adam_kernel(float* params, const float* grads, float* m, float* v,
                            const AdamSchedule* s, double b1, double b2, double eps,
                            double decay, int64_t n) {
  const double step_size = s->step_size, inv_sqrt_bc2 = s->inv_sqrt_bc2;
  STEADY_GRID_STRIDE_LOOP(i, n) {
    const double gi = static_cast<double>(grads[i]);
    const double mi = __dadd_rn(__dmul_rn(b1, static_cast<double>(m[i])), __dmul_rn(1.0 - b1, gi));
    const double vi = __dadd_rn(__dmul_rn(b2, static_cast<double>(v[i])),
                                __dmul_rn(__dmul_rn(1.0 - b2, gi), gi));
    const double pi = __dmul_rn(static_cast<double>(params[i]), decay);
    const double denom = __dadd_rn(__dmul_rn(sqrt(vi), inv_sqrt_bc2), eps);
    params[i] = static_cast<float>(__dsub_rn(pi, __dmul_rn(step_size, mi) / denom));
    m[i] = static_cast<float>(mi);
    v[i] = static_cast<float>(vi);
  }
}

// The device-side schedule of an optimizer: keyed by AdamArgs::optimizer_id, or by the address
// of its first moment when that is 0.
AdamSchedule* schedule_for(const AdamArgs& a, const void* m, bool capturing) {
  static std::mutex mu;
  static std::unordered_map<uint64_t, AdamSchedule*> by_id;
  static std::unordered_map<const void*, AdamSchedule*> by_address;
  std::lock_guard<std::mutex> lock(mu);
  AdamSchedule*& slot = a.optimizer_id != 0 ? by_id[a.optimizer_id] : by_address[m];
  if (slot) return slot;
  STEADY_CHECK(!capturing, "adam_step: the first update of an optimizer must run outside a CUDA ",
               "graph capture (warm up with one uncaptured step)");
  slot = static_cast<AdamSchedule*>(cuda::device_alloc(sizeof(AdamSchedule)));
  return slot;
}

}  // namespace

void CudaBackend::adam_step_impl(Tensor& params, const Tensor& grads, Tensor& m, Tensor& v,
                                 const AdamArgs& a) {
  const bool capturing = cuda::stream_capturing();
  AdamSchedule* schedule = schedule_for(a, m.raw(), capturing);
  const double lr = a.lr, b1 = a.beta1, b2 = a.beta2;
  adam_schedule_kernel<<<1, 1, 0, cuda::stream()>>>(schedule, capturing ? 0 : a.step, lr, b1, b2);
  CUDA_CHECK_LAUNCH("adam_schedule_kernel");
  const int64_t n = params.numel();
  if (n == 0) return;
  const double decay = 1.0 - lr * static_cast<double>(a.weight_decay);
  adam_kernel<<<cuda::grid_for(n, kThreads), kThreads, 0, cuda::stream()>>>(
      params.data<float>(), grads.data<float>(), m.data<float>(), v.data<float>(), schedule, b1,
      b2, static_cast<double>(a.eps), decay, n);
  CUDA_CHECK_LAUNCH("adam_kernel");
}

}  // namespace steady
