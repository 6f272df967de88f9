// TEMPORARY while the op set is filled in; each implementer deletes its lines. Must be empty.
#include "engine/cpu/cpu_backend.h"
namespace steady {
void CpuBackend::fill(Tensor& t, double value) { fail("fill: pending on CpuBackend"); }
Tensor CpuBackend::unary(UnaryOp op, const Tensor& x, float slope) { fail("unary: pending on CpuBackend"); }
Tensor CpuBackend::unary_backward(UnaryOp op, const Tensor& x, const Tensor& y, const Tensor& gy, float slope) { fail("unary_backward: pending on CpuBackend"); }
Tensor CpuBackend::binary(BinaryOp op, const Tensor& a, const Tensor& b) { fail("binary: pending on CpuBackend"); }
Tensor CpuBackend::scale_shift(const Tensor& x, double scale, double shift) { fail("scale_shift: pending on CpuBackend"); }
void CpuBackend::accumulate(Tensor& dst, const Tensor& src, double alpha) { fail("accumulate: pending on CpuBackend"); }
Tensor CpuBackend::sum(const Tensor& x) { fail("sum: pending on CpuBackend"); }
Tensor CpuBackend::broadcast_scalar(const Tensor& s, const Shape& shape, double scale) { fail("broadcast_scalar: pending on CpuBackend"); }
Tensor CpuBackend::conv2d(const Tensor& x, const Tensor& w, const Tensor& b, Conv2dArgs a) { fail("conv2d: pending on CpuBackend"); }
ConvGrads CpuBackend::conv2d_backward(const Tensor& x, const Tensor& w, bool has_bias, const Tensor& gy, Conv2dArgs a) { fail("conv2d_backward: pending on CpuBackend"); }
Tensor CpuBackend::conv_transpose2d(const Tensor& x, const Tensor& w, const Tensor& b, Conv2dArgs a) { fail("conv_transpose2d: pending on CpuBackend"); }
ConvGrads CpuBackend::conv_transpose2d_backward(const Tensor& x, const Tensor& w, bool has_bias, const Tensor& gy, Conv2dArgs a) { fail("conv_transpose2d_backward: pending on CpuBackend"); }
Tensor CpuBackend::max_pool2d(const Tensor& x, int k, int s) { fail("max_pool2d: pending on CpuBackend"); }
Tensor CpuBackend::max_pool2d_backward(const Tensor& x, const Tensor& gy, int k, int s) { fail("max_pool2d_backward: pending on CpuBackend"); }
Tensor CpuBackend::upsample_nearest2d(const Tensor& x, int factor) { fail("upsample_nearest2d: pending on CpuBackend"); }
Tensor CpuBackend::upsample_nearest2d_backward(const Tensor& gy, int factor) { fail("upsample_nearest2d_backward: pending on CpuBackend"); }
Tensor CpuBackend::resize_bilinear(const Tensor& x, int out_h, int out_w) { fail("resize_bilinear: pending on CpuBackend"); }
Tensor CpuBackend::resize_bilinear_backward(const Tensor& gy, int in_h, int in_w) { fail("resize_bilinear_backward: pending on CpuBackend"); }
Tensor CpuBackend::concat_channels(const std::vector<Tensor>& xs) { fail("concat_channels: pending on CpuBackend"); }
Tensor CpuBackend::slice_channels(const Tensor& x, int64_t begin, int64_t end) { fail("slice_channels: pending on CpuBackend"); }
Tensor CpuBackend::batch_norm_train(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean, Tensor& running_var, float momentum, float eps, BatchNormSaved& saved) { fail("batch_norm_train: pending on CpuBackend"); }
Tensor CpuBackend::batch_norm_eval(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& running_mean, const Tensor& running_var, float eps) { fail("batch_norm_eval: pending on CpuBackend"); }
Tensor CpuBackend::batch_norm_backward(const Tensor& x, const Tensor& gamma, const BatchNormSaved& saved, const Tensor& gy, Tensor& grad_gamma, Tensor& grad_beta) { fail("batch_norm_backward: pending on CpuBackend"); }
void CpuBackend::adam_step(Tensor& params, const Tensor& grads, Tensor& m, Tensor& v, const AdamArgs& a) { fail("adam_step: pending on CpuBackend"); }
Tensor CpuBackend::warp_affine_forward(const Tensor& x, const Tensor& matrix) { fail("warp_affine_forward: pending on CpuBackend"); }
Tensor CpuBackend::warp_affine_backward(const Tensor& gy, const Tensor& matrix) { fail("warp_affine_backward: pending on CpuBackend"); }
Tensor CpuBackend::warp_valid_mask(const Tensor& matrix, int64_t n, int64_t h, int64_t w) { fail("warp_valid_mask: pending on CpuBackend"); }
RegLoss CpuBackend::reg_loss(RegKind kind, const Tensor& fx, const Tensor& ftx, const Tensor& y, const Tensor& matrix, const Tensor& mask) { fail("reg_loss: pending on CpuBackend"); }
}  // namespace steady
