// TEMPORARY while the CUDA backend is filled in; each implementer deletes its lines. Must be empty.
#include "engine/cuda/cuda_backend.h"
namespace steady {
Tensor CudaBackend::warp_affine_forward(const Tensor& x, const Tensor& matrix) { fail("warp_affine_forward: pending on CudaBackend"); }
Tensor CudaBackend::warp_affine_backward(const Tensor& gy, const Tensor& matrix) { fail("warp_affine_backward: pending on CudaBackend"); }
Tensor CudaBackend::warp_valid_mask(const Tensor& matrix, int64_t n, int64_t h, int64_t w) { fail("warp_valid_mask: pending on CudaBackend"); }
RegLoss CudaBackend::reg_loss(RegKind kind, const Tensor& fx, const Tensor& ftx, const Tensor& y, const Tensor& matrix, const Tensor& mask) { fail("reg_loss: pending on CudaBackend"); }
}  // namespace steady
