// TEMPORARY while the op set is filled in; each implementer deletes its lines. Must be empty.
#include "engine/cpu/cpu_backend.h"
namespace steady {
Tensor CpuBackend::warp_affine_forward(const Tensor& x, const Tensor& matrix) { fail("warp_affine_forward: pending on CpuBackend"); }
Tensor CpuBackend::warp_affine_backward(const Tensor& gy, const Tensor& matrix) { fail("warp_affine_backward: pending on CpuBackend"); }
Tensor CpuBackend::warp_valid_mask(const Tensor& matrix, int64_t n, int64_t h, int64_t w) { fail("warp_valid_mask: pending on CpuBackend"); }
RegLoss CpuBackend::reg_loss(RegKind kind, const Tensor& fx, const Tensor& ftx, const Tensor& y, const Tensor& matrix, const Tensor& mask) { fail("reg_loss: pending on CpuBackend"); }
}  // namespace steady
