// TEMPORARY while the CUDA backend is filled in; each implementer deletes its lines. Must be empty.
#include "engine/cuda/cuda_backend.h"
namespace steady {
void CudaBackend::fill(Tensor& t, double value) { fail("fill: pending on CudaBackend"); }
Tensor CudaBackend::unary(UnaryOp op, const Tensor& x, float slope) { fail("unary: pending on CudaBackend"); }
Tensor CudaBackend::unary_backward(UnaryOp op, const Tensor& x, const Tensor& y, const Tensor& gy, float slope) { fail("unary_backward: pending on CudaBackend"); }
Tensor CudaBackend::binary(BinaryOp op, const Tensor& a, const Tensor& b) { fail("binary: pending on CudaBackend"); }
Tensor CudaBackend::scale_shift(const Tensor& x, double scale, double shift) { fail("scale_shift: pending on CudaBackend"); }
void CudaBackend::accumulate(Tensor& dst, const Tensor& src, double alpha) { fail("accumulate: pending on CudaBackend"); }
Tensor CudaBackend::sum(const Tensor& x) { fail("sum: pending on CudaBackend"); }
Tensor CudaBackend::broadcast_scalar(const Tensor& s, const Shape& shape, double scale) { fail("broadcast_scalar: pending on CudaBackend"); }
Tensor CudaBackend::conv2d(const Tensor& x, const Tensor& w, const Tensor& b, Conv2dArgs a) { fail("conv2d: pending on CudaBackend"); }
ConvGrads CudaBackend::conv2d_backward(const Tensor& x, const Tensor& w, bool has_bias, const Tensor& gy, Conv2dArgs a) { fail("conv2d_backward: pending on CudaBackend"); }
Tensor CudaBackend::conv_transpose2d(const Tensor& x, const Tensor& w, const Tensor& b, Conv2dArgs a) { fail("conv_transpose2d: pending on CudaBackend"); }
ConvGrads CudaBackend::conv_transpose2d_backward(const Tensor& x, const Tensor& w, bool has_bias, const Tensor& gy, Conv2dArgs a) { fail("conv_transpose2d_backward: pending on CudaBackend"); }
Tensor CudaBackend::max_pool2d(const Tensor& x, int k, int s) { fail("max_pool2d: pending on CudaBackend"); }
Tensor CudaBackend::max_pool2d_backward(const Tensor& x, const Tensor& gy, int k, int s) { fail("max_pool2d_backward: pending on CudaBackend"); }
Tensor CudaBackend::upsample_nearest2d(const Tensor& x, int factor) { fail("upsample_nearest2d: pending on CudaBackend"); }
Tensor CudaBackend::upsample_nearest2d_backward(const Tensor& gy, int factor) { fail("upsample_nearest2d_backward: pending on CudaBackend"); }
Tensor CudaBackend::resize_bilinear(const Tensor& x, int out_h, int out_w) { fail("resize_bilinear: pending on CudaBackend"); }
Tensor CudaBackend::resize_bilinear_backward(const Tensor& gy, int in_h, int in_w) { fail("resize_bilinear_backward: pending on CudaBackend"); }
Tensor CudaBackend::concat_channels(const std::vector<Tensor>& xs) { fail("concat_channels: pending on CudaBackend"); }
Tensor CudaBackend::slice_channels(const Tensor& x, int64_t begin, int64_t end) { fail("slice_channels: pending on CudaBackend"); }
Tensor CudaBackend::batch_norm_train(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean, Tensor& running_var, float momentum, float eps, BatchNormSaved& saved) { fail("batch_norm_train: pending on CudaBackend"); }
Tensor CudaBackend::batch_norm_eval(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& running_mean, const Tensor& running_var, float eps) { fail("batch_norm_eval: pending on CudaBackend"); }
Tensor CudaBackend::batch_norm_backward(const Tensor& x, const Tensor& gamma, const BatchNormSaved& saved, const Tensor& gy, Tensor& grad_gamma, Tensor& grad_beta) { fail("batch_norm_backward: pending on CudaBackend"); }
void CudaBackend::adam_step(Tensor& params, const Tensor& grads, Tensor& m, Tensor& v, const AdamArgs& a) { fail("adam_step: pending on CudaBackend"); }
Tensor CudaBackend::warp_affine_forward(const Tensor& x, const Tensor& matrix) { fail("warp_affine_forward: pending on CudaBackend"); }
Tensor CudaBackend::warp_affine_backward(const Tensor& gy, const Tensor& matrix) { fail("warp_affine_backward: pending on CudaBackend"); }
Tensor CudaBackend::warp_valid_mask(const Tensor& matrix, int64_t n, int64_t h, int64_t w) { fail("warp_valid_mask: pending on CudaBackend"); }
RegLoss CudaBackend::reg_loss(RegKind kind, const Tensor& fx, const Tensor& ftx, const Tensor& y, const Tensor& matrix, const Tensor& mask) { fail("reg_loss: pending on CudaBackend"); }
}  // namespace steady
