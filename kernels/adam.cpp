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

using cpu_kernel::dispatch;
using cpu_kernel::kParallelThreshold;

void CpuBackend::adam_step_impl(Tensor& params, const Tensor& grads, Tensor& m, Tensor& v,
                                const AdamArgs& a) {
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
