// Adam over the flat parameter buffer on the CPU, float32 and float64: one fused pass that
// updates params, m and v in place, with PyTorch's torch.optim.Adam semantics and bias
// correction, at step t (1-based):
//   m = b1 m + (1 - b1) g
//   v = b2 v + (1 - b2) g^2
//   p -= lr * mhat / (sqrt(vhat) + eps),  mhat = m / (1 - b1^t),  vhat = v / (1 - b2^t)
// weight_decay is *decoupled* (AdamW, Loshchilov & Hutter; torch.optim.AdamW): before the
// update p -= lr * weight_decay * p. It is not PyTorch Adam's L2 term (g += wd p), which would
// be scaled by the adaptive denominator. Each element is updated in double and stored back in
// the buffer's type. This is the CPU twin of kernels/adam.cu (written separately) and the
// reference it is checked against. Tested in tests/test_optim.cpp against the update written
// out by hand in double, with and without weight decay, over several steps.
#include <cmath>

#include "engine/cpu/cpu_backend.h"
#include "kernels/cpu_kernel_util.h"

namespace steady {

using cpu_kernel::check_cpu;
using cpu_kernel::dispatch;
using cpu_kernel::kParallelThreshold;

void CpuBackend::adam_step(Tensor& params, const Tensor& grads, Tensor& m, Tensor& v,
                           const AdamArgs& a) {
  const char* op = "adam_step";
  check_cpu(op, params, "params");
  check_cpu(op, grads, "grads");
  check_cpu(op, m, "m");
  check_cpu(op, v, "v");
  check_same_shape("adam_step (params, grads)", params, grads);
  check_same_shape("adam_step (params, m)", params, m);
  check_same_shape("adam_step (params, v)", params, v);
  STEADY_CHECK(a.step >= 1, op, ": step is 1-based and counts this update, got ", a.step);
  STEADY_CHECK(a.beta1 >= 0.f && a.beta1 < 1.f && a.beta2 >= 0.f && a.beta2 < 1.f, op,
               ": betas must lie in [0, 1), got ", a.beta1, ", ", a.beta2);

  const double b1 = a.beta1, b2 = a.beta2, lr = a.lr, eps = a.eps;
  const double step_size = lr / (1.0 - std::pow(b1, static_cast<double>(a.step)));
  const double inv_sqrt_bc2 = 1.0 / std::sqrt(1.0 - std::pow(b2, static_cast<double>(a.step)));
  const double decay = 1.0 - lr * static_cast<double>(a.weight_decay);
  const int64_t n = params.numel();
  dispatch(params.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* p = params.data<T>();
    const T* g = grads.data<T>();
    T* mp = m.data<T>();
    T* vp = v.data<T>();
#pragma omp parallel for if (n > kParallelThreshold) schedule(static)
    for (int64_t i = 0; i < n; ++i) {
      const double gi = static_cast<double>(g[i]);
      const double mi = b1 * static_cast<double>(mp[i]) + (1.0 - b1) * gi;
      const double vi = b2 * static_cast<double>(vp[i]) + (1.0 - b2) * gi * gi;
      const double pi = static_cast<double>(p[i]) * decay;
      // mhat / (sqrt(vhat) + eps) = (m / bc1) / (sqrt(v) / sqrt(bc2) + eps)
      p[i] = static_cast<T>(pi - step_size * mi / (std::sqrt(vi) * inv_sqrt_bc2 + eps));
      mp[i] = static_cast<T>(mi);
      vp[i] = static_cast<T>(vi);
    }
  });
}

}  // namespace steady
