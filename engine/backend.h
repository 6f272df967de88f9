// The op set at the tensor level, declared once. Each device implements this interface:
// CpuBackend (engine/cpu, kernels/*.cpp; the reference, float32 and float64) and CudaBackend
// (engine/cuda, kernels/*.cu; float32). Ops allocate and return their outputs. Autograd
// (engine/autograd.h) and the Var-level op functions (engine/ops.h) sit on top and never ask
// which device they run on: backend(tensor.device()) picks the implementation.
#pragma once
#include <vector>

#include "engine/tensor.h"

namespace steady {

enum class UnaryOp { Relu, LeakyRelu, Sigmoid, Tanh, Exp, Log };
enum class BinaryOp { Add, Sub, Mul };

struct Conv2dArgs {
  int stride = 1;
  int pad = 0;
  int output_pad = 0;  // conv_transpose2d only
};

struct ConvGrads {
  Tensor grad_x, grad_w, grad_b;  // undefined when not needed (ConvGradsNeeded)
};

// Which gradients a convolution's backward computes besides grad_w. The input's is skipped
// when nothing upstream needs it (a network's first layer), the bias's when there is none.
struct ConvGradsNeeded {
  bool x = true;
  bool bias = true;
};

// Batch statistics saved by the training forward pass for the backward pass.
struct BatchNormSaved {
  Tensor mean, invstd;  // [C]
};

struct AdamArgs {
  float lr = 1e-3f, beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f, weight_decay = 0.f;
  int64_t step = 1;  // 1-based, after increment: bias corrections use it
  // CUDA: names the optimizer whose step counter lives on the device (kernels/adam.cu); set by
  // Adam, unique per attach(). 0 keys the counter by m's address instead.
  uint64_t optimizer_id = 0;
};

// Regularization losses fused into one kernel: value and both gradients in one pass.
// fx = f(x), ftx = f(T(x)), both [N,C,H,W]; y the target [N,C,H,W] (jacobian/augment);
// matrix [N,6] the per-sample inverse map of T; mask [N,1,H,W] (undefined = all ones). The
// mask already holds the HDR rule and the warp's validity; see losses/regularizers.h.
//   Stability: d = fx - ftx                     (no warp)
//   TransInv:  d = ftx - T(fx)                  (grad_fx includes T's exact adjoint)
//   Jacobian:  d = (ftx - T(y)) - (fx - y)
//   Augment:   d = ftx - T(y)                   (grad_fx = 0)
// loss = sum(mask * d^2) / max(1, C * sum(mask)) -- a masked mean over pixels and channels.
enum class RegKind { Stability, TransInv, Jacobian, Augment };
struct RegLoss {
  Tensor loss;     // [1]
  Tensor grad_fx;  // d loss / d fx
  Tensor grad_ftx; // d loss / d ftx
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual Device device() const = 0;

  // ---- memory
  virtual void* alloc(size_t bytes) = 0;
  virtual void free(void* ptr, size_t bytes) = 0;
  // Copies between this device and host or itself; the other pointer's device is given.
  virtual void copy(void* dst, Device dst_dev, const void* src, Device src_dev, size_t bytes) = 0;
  virtual void synchronize() = 0;

  // ---- elementwise and reductions (kernels/elementwise.*)
  virtual void fill(Tensor& t, double value) = 0;
  virtual Tensor unary(UnaryOp op, const Tensor& x, float slope) = 0;
  // grad of unary op given input x, output y and upstream gy
  virtual Tensor unary_backward(UnaryOp op, const Tensor& x, const Tensor& y, const Tensor& gy,
                                float slope) = 0;
  virtual Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b) = 0;  // same shapes
  virtual Tensor scale_shift(const Tensor& x, double scale, double shift) = 0;  // x*scale+shift
  virtual void accumulate(Tensor& dst, const Tensor& src, double alpha = 1.0) = 0;  // dst += alpha*src
  virtual Tensor sum(const Tensor& x) = 0;  // [1]
  // out[i] = s[0] * scale for every i of shape; s is a one-element tensor on this device
  virtual Tensor broadcast_scalar(const Tensor& s, const Shape& shape, double scale) = 0;

  // ---- convolution (kernels/conv.cpp: im2col + BLAS; kernels/conv.cu: cuDNN)
  // x [N,Ci,H,W], w [Co,Ci,k,k], b [Co] or undefined.
  virtual Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& b, Conv2dArgs a) = 0;
  virtual ConvGrads conv2d_backward(const Tensor& x, const Tensor& w, ConvGradsNeeded need,
                                    const Tensor& gy, Conv2dArgs a) = 0;
  // x [N,Ci,H,W], w [Ci,Co,k,k] (PyTorch layout), b [Co] or undefined;
  // Hout = (H-1)*stride - 2*pad + k + output_pad
  virtual Tensor conv_transpose2d(const Tensor& x, const Tensor& w, const Tensor& b,
                                  Conv2dArgs a) = 0;
  virtual ConvGrads conv_transpose2d_backward(const Tensor& x, const Tensor& w,
                                              ConvGradsNeeded need, const Tensor& gy,
                                              Conv2dArgs a) = 0;

  // ---- resampling and layout (kernels/resample.*)
  // window k, stride s, no padding; backward re-finds the argmax (first maximum wins)
  virtual Tensor max_pool2d(const Tensor& x, int k, int s) = 0;
  virtual Tensor max_pool2d_backward(const Tensor& x, const Tensor& gy, int k, int s) = 0;
  virtual Tensor upsample_nearest2d(const Tensor& x, int factor) = 0;
  virtual Tensor upsample_nearest2d_backward(const Tensor& gy, int factor) = 0;
  // bilinear, align_corners=false, as PyTorch's F.interpolate (no antialias)
  virtual Tensor resize_bilinear(const Tensor& x, int out_h, int out_w) = 0;
  virtual Tensor resize_bilinear_backward(const Tensor& gy, int in_h, int in_w) = 0;
  virtual Tensor concat_channels(const std::vector<Tensor>& xs) = 0;
  virtual Tensor slice_channels(const Tensor& x, int64_t begin, int64_t end) = 0;

  // ---- batch norm (kernels/batch_norm.*); gamma, beta, running stats [C]
  // Training: normalizes with batch statistics (biased variance), updates the running
  // statistics in place (unbiased variance, PyTorch's momentum convention) and fills saved.
  virtual Tensor batch_norm_train(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                  Tensor& running_mean, Tensor& running_var, float momentum,
                                  float eps, BatchNormSaved& saved) = 0;
  virtual Tensor batch_norm_eval(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                 const Tensor& running_mean, const Tensor& running_var,
                                 float eps) = 0;
  // returns grad_x; grad_gamma and grad_beta are written to the given [C] tensors
  virtual Tensor batch_norm_backward(const Tensor& x, const Tensor& gamma,
                                     const BatchNormSaved& saved, const Tensor& gy,
                                     Tensor& grad_gamma, Tensor& grad_beta) = 0;

  // ---- optimizer (kernels/adam.*): one update over the flat parameter buffer
  virtual void adam_step(Tensor& params, const Tensor& grads, Tensor& m, Tensor& v,
                         const AdamArgs& a) = 0;

  // ---- warp and regularization losses (kernels/warp.*, kernels/reg_loss.*)
  // matrix [N,6] row-major 2x3 per sample: output (x,y) samples input at
  // (m0 x + m1 y + m2, m3 x + m4 y + m5), bilinear, zero outside.
  virtual Tensor warp_affine_forward(const Tensor& x, const Tensor& matrix) = 0;
  // The exact adjoint of warp_affine_forward with respect to the image, for gy [N,C,H,W].
  virtual Tensor warp_affine_backward(const Tensor& gy, const Tensor& matrix) = 0;
  // [N,1,H,W]: 1 where the sample point lies inside the image (all four taps defined), else 0.
  virtual Tensor warp_valid_mask(const Tensor& matrix, int64_t n, int64_t h, int64_t w) = 0;
  virtual RegLoss reg_loss(RegKind kind, const Tensor& fx, const Tensor& ftx, const Tensor& y,
                           const Tensor& matrix, const Tensor& mask) = 0;
};

Backend& cpu_backend();
// The CUDA backend; throws a one-line steady::Error when this build has no CUDA or the
// machine has no device.
Backend& cuda_backend();
bool cuda_built();
bool cuda_available();  // built with CUDA and a device is present
Backend& backend(Device d);
inline Backend& backend_of(const Tensor& t) { return backend(t.device()); }

// Host synchronizations: every read of tensor values back to the host (Tensor::to_host, item)
// on any device (on CUDA a wait for the stream; on the CPU the same point in the program), and
// every other wait of the host for the CUDA stream (synchronize, a staging slot still in use).
// Counted per thread: the count is the calling thread's (the training thread's, not that of the
// batch loader's workers, which read their own CPU tensors). The training step between log
// points makes none (tests/test_tools.cpp).
void count_host_sync();
int64_t host_sync_count();

// Parses "auto" | "cpu" | "cuda" (tools' --device). auto picks CUDA when available.
Device parse_device(const std::string& name);

}  // namespace steady
