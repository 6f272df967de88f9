// The op set at the tensor level, declared once. Each device implements this interface:
// CpuBackend (engine/cpu, kernels/*.cpp; the reference, float32 and float64) and CudaBackend
// (engine/cuda, kernels/*.cu; float32). Ops allocate and return their outputs. Autograd
// (engine/autograd.h) and the Var-level op functions (engine/ops.h) sit on top and never ask
// which device they run on: backend(tensor.device()) picks the implementation.
#pragma once
#include <vector>

#include "engine/tensor.h"

namespace steady {

// The unary ops without a parameter, as (enum, name): the enum, op_name and the one-argument
// functions of ops.h and tensor_ops.h are all made from this list.
#define STEADY_PLAIN_UNARY_OPS(X) \
  X(Relu, relu) X(Sigmoid, sigmoid) X(Tanh, tanh) X(Exp, exp) X(Log, log) X(Rsqrt, rsqrt)

#define STEADY_ENUM_ITEM(Op, name) Op,
enum class UnaryOp { LeakyRelu, STEADY_PLAIN_UNARY_OPS(STEADY_ENUM_ITEM) };
#undef STEADY_ENUM_ITEM
inline const char* op_name(UnaryOp op) {
#define STEADY_NAME_CASE(Op, name) \
  case UnaryOp::Op: return #name;
  switch (op) {
    case UnaryOp::LeakyRelu: return "leaky_relu";
    STEADY_PLAIN_UNARY_OPS(STEADY_NAME_CASE)
  }
#undef STEADY_NAME_CASE
  return "unary";
}
// The element-wise binary ops as (enum, name), made into the enum, op_name and the two-argument
// functions of ops.h and tensor_ops.h.
#define STEADY_BINARY_OPS(X) X(Add, add) X(Sub, sub) X(Mul, mul) X(Max, maximum)

#define STEADY_ENUM_ITEM(Op, name) Op,
enum class BinaryOp { STEADY_BINARY_OPS(STEADY_ENUM_ITEM) };
#undef STEADY_ENUM_ITEM
inline const char* op_name(BinaryOp op) {
#define STEADY_NAME_CASE(Op, name) \
  case BinaryOp::Op: return #name;
  switch (op) { STEADY_BINARY_OPS(STEADY_NAME_CASE) }
#undef STEADY_NAME_CASE
  return "binary";
}

struct Conv2dArgs {
  int stride = 1;
  int pad = 0;
  int output_pad = 0;  // conv_transpose2d only
};

// The geometry of one convolution, checked by the entry point (engine/conv_geometry.h). A
// convolution maps an "image" [N, c_im, h_im, w_im] to "columns" [N, c_col, h_col, w_col];
// conv_transpose2d is the same map run backwards (its input is the columns side).
struct ConvShape {
  int64_t batch = 0;
  int64_t c_im = 0, h_im = 0, w_im = 0;     // image side
  int64_t c_col = 0, h_col = 0, w_col = 0;  // columns side
  int64_t k = 0, stride = 1, pad = 0;

  Shape image_shape() const { return {batch, c_im, h_im, w_im}; }
  Shape columns_shape() const { return {batch, c_col, h_col, w_col}; }
};

// The [N, C, ...] layout of the per-channel ops (batch norm, max_channels, mul_channels): N
// samples, C channels, `plane` elements of one channel of one sample; a channel's statistics run
// over count() = N * plane values.
struct ChannelLayout {
  int64_t n, c, plane;
  int64_t count() const { return n * plane; }
};
inline ChannelLayout channel_layout(const Tensor& x) {
  ChannelLayout l{x.size(0), x.size(1), 1};
  for (int d = 2; d < x.dim(); ++d) l.plane *= x.size(d);
  return l;
}

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

// A backend is the checked entry points below, written once for every device (engine/backend.cpp),
// over the hooks of engine/backend_hooks.inc that each device implements. An entry point checks
// devices, dtypes and shapes once, allocates the outputs and calls its hook; a hook only
// computes, writing into the outputs it is given.
class Backend {
 public:
  virtual ~Backend() = default;

  // ---- memory (engine/backend_hooks.inc)
#define STEADY_MEMORY(signature) virtual signature = 0;
#define STEADY_HOOK(signature)
#include "engine/backend_hooks.inc"
#undef STEADY_HOOK
#undef STEADY_MEMORY
  // The dtypes the kernels compute in: float32 everywhere, float64 on the CPU (the reference of
  // the gradient checks).
  bool supports(DType dtype) const { return dtype == DType::F32 || device() == Device::CPU; }

  // ---- elementwise and reductions (kernels/elementwise.*)
  void fill(Tensor& t, double value);
  Tensor unary(UnaryOp op, const Tensor& x, float slope);
  // grad of unary op given input x, output y and upstream gy. Each gradient is computed from the
  // operand it is most accurate from (kernels/elementwise_math.h: relu, leaky relu and log from x; sigmoid,
  // tanh and exp from y); when that one is undefined the other is used.
  Tensor unary_backward(UnaryOp op, const Tensor& x, const Tensor& y, const Tensor& gy,
                        float slope);
  Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b);  // same shapes
  // The gradients of maximum(a, b): gy where that input is the larger, gy/2 to each on a tie
  // (torch.maximum's rule), 0 otherwise (and for NaN).
  void maximum_backward(const Tensor& a, const Tensor& b, const Tensor& gy, Tensor& ga,
                        Tensor& gb);
  Tensor max_channels(const Tensor& x);  // [N,C,...] -> [N,1,...], the maximum over channels
  // x [N,C,...] times m [N,1,...], m broadcast over the channels
  Tensor mul_channels(const Tensor& x, const Tensor& m);
  Tensor scale_shift(const Tensor& x, double scale, double shift);  // x*scale+shift
  void accumulate(Tensor& dst, const Tensor& src, double alpha = 1.0);  // dst += alpha*src
  Tensor sum(const Tensor& x);  // [1]
  // out[i] = s[0] * scale for every i of shape; s is a one-element tensor on this device
  Tensor broadcast_scalar(const Tensor& s, const Shape& shape, double scale);

  // ---- convolution (kernels/conv.cpp: oneDNN, im2col + BLAS; kernels/conv.cu: cuDNN)
  // x [N,Ci,H,W], w [Co,Ci,k,k], b [Co] or undefined.
  Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& b, Conv2dArgs a);
  ConvGrads conv2d_backward(const Tensor& x, const Tensor& w, ConvGradsNeeded need,
                            const Tensor& gy, Conv2dArgs a);
  // x [N,Ci,H,W], w [Ci,Co,k,k] (PyTorch layout), b [Co] or undefined;
  // Hout = (H-1)*stride - 2*pad + k + output_pad
  Tensor conv_transpose2d(const Tensor& x, const Tensor& w, const Tensor& b, Conv2dArgs a);
  ConvGrads conv_transpose2d_backward(const Tensor& x, const Tensor& w, ConvGradsNeeded need,
                                      const Tensor& gy, Conv2dArgs a);

  // ---- resampling and layout (kernels/resample.*)
  // window k, stride s, no padding; backward re-finds the argmax (first maximum wins)
  Tensor max_pool2d(const Tensor& x, int k, int s);
  Tensor max_pool2d_backward(const Tensor& x, const Tensor& gy, int k, int s);
  Tensor upsample_nearest2d(const Tensor& x, int factor);
  Tensor upsample_nearest2d_backward(const Tensor& gy, int factor);
  // bilinear, align_corners=false, as PyTorch's F.interpolate (no antialias)
  Tensor resize_bilinear(const Tensor& x, int out_h, int out_w);
  Tensor resize_bilinear_backward(const Tensor& gy, int in_h, int in_w);
  Tensor concat_channels(const std::vector<Tensor>& xs);
  Tensor slice_channels(const Tensor& x, int64_t begin, int64_t end);

  // ---- batch norm (kernels/batch_norm.*); gamma, beta, running stats [C]
  // Training: normalizes with batch statistics (biased variance), updates the running
  // statistics in place (unbiased variance, PyTorch's momentum convention) and fills saved.
  Tensor batch_norm_train(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                          Tensor& running_mean, Tensor& running_var, float momentum, float eps,
                          BatchNormSaved& saved);
  Tensor batch_norm_eval(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                         const Tensor& running_mean, const Tensor& running_var, float eps);
  // returns grad_x; grad_gamma and grad_beta are written to the given [C] tensors
  Tensor batch_norm_backward(const Tensor& x, const Tensor& gamma, const BatchNormSaved& saved,
                             const Tensor& gy, Tensor& grad_gamma, Tensor& grad_beta);

  // ---- optimizer (kernels/adam.*): one update over the flat parameter buffer
  void adam_step(Tensor& params, const Tensor& grads, Tensor& m, Tensor& v, const AdamArgs& a);

  // ---- warp and regularization losses (kernels/warp.*, kernels/reg_loss.*)
  // matrix [N,6] row-major 2x3 per sample: output (x,y) samples input at
  // (m0 x + m1 y + m2, m3 x + m4 y + m5), bilinear, zero outside.
  Tensor warp_affine_forward(const Tensor& x, const Tensor& matrix);
  // The exact adjoint of warp_affine_forward with respect to the image, for gy [N,C,H,W].
  Tensor warp_affine_backward(const Tensor& gy, const Tensor& matrix);
  // [N,1,H,W]: 1 where the sample point lies inside the image (all four taps defined), else 0.
  Tensor warp_valid_mask(const Tensor& matrix, int64_t n, int64_t h, int64_t w);
  RegLoss reg_loss(RegKind kind, const Tensor& fx, const Tensor& ftx, const Tensor& y,
                   const Tensor& matrix, const Tensor& mask);

 protected:
  // The kernel hooks, one line each in engine/backend_hooks.inc (the override lists of the
  // devices include the same file).
#define STEADY_MEMORY(signature)
#define STEADY_HOOK(signature) virtual signature = 0;
#include "engine/backend_hooks.inc"
#undef STEADY_HOOK
#undef STEADY_MEMORY

 private:
  // defined, on this device, in a dtype it computes in
  void check_operand(const char* op, const Tensor& t, const char* what) const;
  ConvShape check_conv(const char* op, bool transposed, const Tensor& x, const Tensor& w,
                       const Tensor& b, const Tensor& gy, const Conv2dArgs& a) const;
  // conv2d and conv_transpose2d (transposed), forward and backward: checks, outputs, the hook
  Tensor conv_forward(bool transposed, const Tensor& x, const Tensor& w, const Tensor& b,
                      Conv2dArgs a);
  ConvGrads conv_backward(bool transposed, const Tensor& x, const Tensor& w, ConvGradsNeeded need,
                          const Tensor& gy, Conv2dArgs a);
  void check_warp(const char* op, const Tensor& image, const char* what,
                  const Tensor& matrix) const;
  // and a [C] tensor of x's dtype, C = x.size(1)
  void check_per_channel(const char* op, const Tensor& t, const char* what, const Tensor& x) const;
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
