// TEMPORARY while the op set is filled in; each implementer deletes its lines. Must be empty.
#include "engine/cpu/cpu_backend.h"
namespace steady {
Tensor CpuBackend::batch_norm_train(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean, Tensor& running_var, float momentum, float eps, BatchNormSaved& saved) { fail("batch_norm_train: pending on CpuBackend"); }
Tensor CpuBackend::batch_norm_eval(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& running_mean, const Tensor& running_var, float eps) { fail("batch_norm_eval: pending on CpuBackend"); }
Tensor CpuBackend::batch_norm_backward(const Tensor& x, const Tensor& gamma, const BatchNormSaved& saved, const Tensor& gy, Tensor& grad_gamma, Tensor& grad_beta) { fail("batch_norm_backward: pending on CpuBackend"); }
void CpuBackend::adam_step(Tensor& params, const Tensor& grads, Tensor& m, Tensor& v, const AdamArgs& a) { fail("adam_step: pending on CpuBackend"); }
Tensor CpuBackend::warp_affine_forward(const Tensor& x, const Tensor& matrix) { fail("warp_affine_forward: pending on CpuBackend"); }
Tensor CpuBackend::warp_affine_backward(const Tensor& gy, const Tensor& matrix) { fail("warp_affine_backward: pending on CpuBackend"); }
Tensor CpuBackend::warp_valid_mask(const Tensor& matrix, int64_t n, int64_t h, int64_t w) { fail("warp_valid_mask: pending on CpuBackend"); }
RegLoss CpuBackend::reg_loss(RegKind kind, const Tensor& fx, const Tensor& ftx, const Tensor& y, const Tensor& matrix, const Tensor& mask) { fail("reg_loss: pending on CpuBackend"); }
}  // namespace steady
