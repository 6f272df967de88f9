// CudaBackend: every op on one CUDA device, float32. Member functions are defined across
// engine/cuda/*.cpp|cu (runtime, cuDNN convolutions) and kernels/*.cu (hand-written kernels).
#pragma once
#include "engine/backend.h"

namespace steady {

class CudaBackend final : public Backend {
 public:
  CudaBackend();
  ~CudaBackend() override;
  Device device() const override;
  void* alloc(size_t bytes) override;
  void free(void* ptr, size_t bytes) override;
  void copy(void* dst, Device dst_dev, const void* src, Device src_dev, size_t bytes) override;
  void synchronize() override;
  void fill(Tensor& t, double value) override;
  Tensor unary(UnaryOp op, const Tensor& x, float slope) override;
  Tensor unary_backward(UnaryOp op, const Tensor& x, const Tensor& y, const Tensor& gy, float slope) override;
  Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b) override;
  Tensor scale_shift(const Tensor& x, double scale, double shift) override;
  void accumulate(Tensor& dst, const Tensor& src, double alpha) override;
  Tensor sum(const Tensor& x) override;
  Tensor broadcast_scalar(const Tensor& s, const Shape& shape, double scale) override;
  Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& b, Conv2dArgs a) override;
  ConvGrads conv2d_backward(const Tensor& x, const Tensor& w, ConvGradsNeeded need, const Tensor& gy, Conv2dArgs a) override;
  Tensor conv_transpose2d(const Tensor& x, const Tensor& w, const Tensor& b, Conv2dArgs a) override;
  ConvGrads conv_transpose2d_backward(const Tensor& x, const Tensor& w, ConvGradsNeeded need, const Tensor& gy, Conv2dArgs a) override;
  Tensor max_pool2d(const Tensor& x, int k, int s) override;
  Tensor max_pool2d_backward(const Tensor& x, const Tensor& gy, int k, int s) override;
  Tensor upsample_nearest2d(const Tensor& x, int factor) override;
  Tensor upsample_nearest2d_backward(const Tensor& gy, int factor) override;
  Tensor resize_bilinear(const Tensor& x, int out_h, int out_w) override;
  Tensor resize_bilinear_backward(const Tensor& gy, int in_h, int in_w) override;
  Tensor concat_channels(const std::vector<Tensor>& xs) override;
  Tensor slice_channels(const Tensor& x, int64_t begin, int64_t end) override;
  Tensor batch_norm_train(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean, Tensor& running_var, float momentum, float eps, BatchNormSaved& saved) override;
  Tensor batch_norm_eval(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& running_mean, const Tensor& running_var, float eps) override;
  Tensor batch_norm_backward(const Tensor& x, const Tensor& gamma, const BatchNormSaved& saved, const Tensor& gy, Tensor& grad_gamma, Tensor& grad_beta) override;
  void adam_step(Tensor& params, const Tensor& grads, Tensor& m, Tensor& v, const AdamArgs& a) override;
  Tensor warp_affine_forward(const Tensor& x, const Tensor& matrix) override;
  Tensor warp_affine_backward(const Tensor& gy, const Tensor& matrix) override;
  Tensor warp_valid_mask(const Tensor& matrix, int64_t n, int64_t h, int64_t w) override;
  RegLoss reg_loss(RegKind kind, const Tensor& fx, const Tensor& ftx, const Tensor& y, const Tensor& matrix, const Tensor& mask) override;
};

}  // namespace steady
