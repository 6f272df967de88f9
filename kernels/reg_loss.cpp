// Fused regularization losses, CPU twin of kernels/reg_loss.cu (float and double). One pass
// computes the masked squared difference d of the mode (engine/backend.h, RegKind), its
// reduction and both gradients:
//   loss = sum(mask d^2) / max(1, C sum(mask)),   g = 2 mask d / max(1, C sum(mask))
//   Stability: d = fx - ftx               grad_fx = g,        grad_ftx = -g
//   TransInv:  d = ftx - T(fx)            grad_fx = -T^T g,   grad_ftx = g
//   Jacobian:  d = (ftx - T(y)) - (fx - y) grad_fx = -g,      grad_ftx = g
//   Augment:   d = ftx - T(y)             grad_fx = 0,        grad_ftx = g
// T is the bilinear warp of kernels/warp.cpp; T^T its exact adjoint. Tested in
// tests/test_regularizers.cpp against the same losses composed from plain ops and against
// finite differences.
#include <cmath>
#include <vector>

#include "engine/cpu/cpu_backend.h"
#include "kernels/cpu_kernel_util.h"

namespace steady {

void CpuBackend::reg_loss_impl(RegKind kind, const Tensor& fx, const Tensor& ftx, const Tensor& y,
                               const Tensor& matrix, const Tensor& mask, RegLoss& out) {
  const bool needs_y = kind == RegKind::Jacobian || kind == RegKind::Augment;
  const bool needs_warp = kind != RegKind::Stability;
  const int64_t N = fx.size(0), C = fx.size(1), H = fx.size(2), W = fx.size(3), HW = H * W;
  Tensor warped;  // T(fx) or T(y)
  if (needs_warp) warped = warp_affine_forward(kind == RegKind::TransInv ? fx : y, matrix);

  // The mask in double, and the normalization.
  std::vector<double> m = mask.defined() ? cpu_kernel::values(mask) : std::vector<double>(N * HW, 1.0);
  double mask_sum = 0;
  for (double v : m) mask_sum += v;
  const double denom = std::max(1.0, static_cast<double>(C) * mask_sum);

  // Trans-inv's grad_fx is -T^T g: g goes to a scratch tensor first, warped back below.
  Tensor grad_fx = kind == RegKind::TransInv ? Tensor::empty(fx.shape(), Device::CPU, fx.dtype())
                                             : out.grad_fx;
  double total = 0;
  cpu_kernel::dispatch(fx.dtype(), [&](auto zero) {
    using T = decltype(zero);
    const T* a = fx.data<T>();
    const T* b = ftx.data<T>();
    const T* t = needs_warp ? warped.data<T>() : nullptr;
    const T* yy = needs_y ? y.data<T>() : nullptr;
    T* gfx = grad_fx.data<T>();
    T* gftx = out.grad_ftx.data<T>();
    // Per-plane partial sums combined in order: deterministic for any thread count.
    std::vector<double> partial(N * C, 0.0);
#pragma omp parallel for schedule(static) if (N * C * HW > cpu_kernel::kParallelThreshold)
    for (int64_t p = 0; p < N * C; ++p) {
      const double* mp = m.data() + (p / C) * HW;
      double s = 0;
      for (int64_t i = 0; i < HW; ++i) {
        int64_t k = p * HW + i;
        double d;
        switch (kind) {
          case RegKind::Stability: d = double(a[k]) - b[k]; break;
          case RegKind::TransInv: d = double(b[k]) - t[k]; break;
          case RegKind::Jacobian: d = (double(b[k]) - t[k]) - (double(a[k]) - yy[k]); break;
          default: d = double(b[k]) - t[k]; break;
        }
        s += mp[i] * d * d;
        double g = 2.0 * mp[i] * d / denom;
        switch (kind) {
          case RegKind::Stability: gfx[k] = T(g), gftx[k] = T(-g); break;
          case RegKind::TransInv: gfx[k] = T(-g), gftx[k] = T(g); break;  // warped back below
          case RegKind::Jacobian: gfx[k] = T(-g), gftx[k] = T(g); break;
          default: gfx[k] = T(0), gftx[k] = T(g); break;
        }
      }
      partial[p] = s;
    }
    for (double s : partial) total += s;
  });
  if (kind == RegKind::TransInv) warp_affine_backward_impl(grad_fx, matrix, out.grad_fx);
  cpu_kernel::dispatch(fx.dtype(), [&](auto zero) {
    out.loss.data<decltype(zero)>()[0] = static_cast<decltype(zero)>(total / denom);
  });
}

}  // namespace steady
