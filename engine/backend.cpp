// The backend registry and the checked entry points of every op: each checks its operands
// once for every device, allocates the outputs and calls the device's hook
// (engine/backend_hooks.inc). Messages name the op and the tensor.
#include "engine/backend.h"

#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>

#include "engine/conv_geometry.h"
#include "engine/cpu/cpu_backend.h"
#include "engine/cpu/host_allocator.h"
#include "engine/layout.h"

namespace steady {

Backend& cpu_backend() {
  static CpuBackend cpu;
  return cpu;
}

namespace {
thread_local int64_t t_host_syncs = 0;
}
void count_host_sync() { ++t_host_syncs; }
int64_t host_sync_count() { return t_host_syncs; }

Backend& backend(Device d) { return d == Device::CPU ? cpu_backend() : cuda_backend(); }

Device parse_device(const std::string& name) {
  if (name == "cpu") return Device::CPU;
  if (name == "cuda") {
    cuda_backend();  // throws a clear error when there is none
    return Device::CUDA;
  }
  if (name == "auto") return cuda_available() ? Device::CUDA : Device::CPU;
  fail("--device must be auto, cpu or cuda, got '", name, "'");
}

// ---------------------------------------------------------------- checks

void Backend::check_operand(const char* op, const Tensor& t, const char* what) const {
  STEADY_CHECK(t.defined(), op, ": ", what, " is undefined");
  const char* dev = device_name(device());
  STEADY_CHECK(t.device() == device(), op, ": ", what, " must be on ", dev, " for the ", dev,
               " backend, got ", t.str());
  STEADY_CHECK(supports(t.dtype()), op, ": the ", dev, " backend computes in f32, ", what, " is ",
               t.str());
}

namespace {

void check_same_dtype(const char* op, const Tensor& a, const char* what_a, const Tensor& b,
                      const char* what_b) {
  STEADY_CHECK(a.dtype() == b.dtype(), op, ": ", what_a, " ", a.str(), " and ", what_b, " ",
               b.str(), " have different dtypes");
}

// [N, C, ...] with at least two dimensions.
ChannelLayout checked_layout(const char* op, const Tensor& x, const char* what) {
  STEADY_CHECK(x.dim() >= 2, op, ": ", what, " must be [N, C, ...], got ", x.str());
  return channel_layout(x);
}

void check_matrix(const char* op, const Tensor& matrix, int64_t n) {
  STEADY_CHECK(matrix.dim() == 2 && matrix.size(0) == n && matrix.size(1) == 6, op,
               ": matrix must be [", n, ", 6], got ", matrix.str());
}

Shape pooled_shape(const char* op, const Tensor& x, int k, int s) {
  STEADY_CHECK(k >= 1 && s >= 1, op, ": window ", k, " and stride ", s, " must be positive");
  const int64_t h = x.size(2), w = x.size(3);
  STEADY_CHECK(h >= k && w >= k, op, ": window ", k, " larger than the input ", x.str());
  return {x.size(0), x.size(1), (h - k) / s + 1, (w - k) / s + 1};
}

}  // namespace

// ---------------------------------------------------------------- elementwise and reductions

void Backend::fill(Tensor& t, double value) {
  check_operand("fill", t, "tensor");
  fill_impl(t, value);
}

Tensor Backend::unary(UnaryOp op, const Tensor& x, float slope) {
  check_operand(op_name(op), x, "x");
  Tensor y = Tensor::empty_like(x);
  if (x.numel() > 0) unary_impl(op, x, slope, y);
  return y;
}

Tensor Backend::unary_backward(UnaryOp op, const Tensor& x, const Tensor& y, const Tensor& gy,
                               float slope) {
  const std::string name = std::string(op_name(op)) + "_backward";
  const char* opname = name.c_str();
  check_operand(opname, gy, "gy");
  STEADY_CHECK(x.defined() || y.defined(), opname, ": needs the input x or the output y, got ",
               "neither");
  const bool from_x = op == UnaryOp::Relu || op == UnaryOp::LeakyRelu || op == UnaryOp::Log;
  const bool use_x = x.defined() && (from_x || !y.defined());
  const Tensor& operand = use_x ? x : y;
  check_operand(opname, operand, use_x ? "x" : "y");
  STEADY_CHECK(use_x || op != UnaryOp::LeakyRelu || slope >= 0.f, opname,
               ": with a negative slope the gradient needs x, got only y");
  STEADY_CHECK(operand.shape() == gy.shape() && operand.dtype() == gy.dtype() &&
                   operand.layout() == gy.layout(),
               opname, ": ", use_x ? "x " : "y ", operand.str(), " does not match gy ", gy.str());
  Tensor gx = Tensor::empty_like(gy);
  if (gy.numel() > 0) unary_backward_impl(op, operand, use_x, gy, slope, gx);
  return gx;
}

Tensor Backend::binary(BinaryOp op, const Tensor& a, const Tensor& b) {
  const char* name = op_name(op);
  check_operand(name, a, "a");
  check_operand(name, b, "b");
  check_same_shape(name, a, b);
  check_same_dtype(name, a, "a", b, "b");
  Tensor out = Tensor::empty_like(a);
  if (a.numel() > 0) binary_impl(op, a, b, out);
  return out;
}

void Backend::maximum_backward(const Tensor& a, const Tensor& b, const Tensor& gy, Tensor& ga,
                               Tensor& gb) {
  const char* op = "maximum_backward";
  check_operand(op, a, "a");
  check_operand(op, b, "b");
  check_operand(op, gy, "gy");
  check_same_shape(op, a, b);
  check_same_shape(op, a, gy);
  check_same_dtype(op, a, "a", b, "b");
  check_same_dtype(op, a, "a", gy, "gy");
  ga = Tensor::empty_like(a);
  gb = Tensor::empty_like(a);
  if (a.numel() > 0) maximum_backward_impl(a, b, gy, ga, gb);
}

Tensor Backend::max_channels(const Tensor& x) {
  const char* op = "max_channels";
  check_operand(op, x, "x");
  checked_layout(op, x, "x");
  STEADY_CHECK(x.size(1) >= 1, op, ": x has no channels: ", x.str());
  Shape shape = x.shape();
  shape[1] = 1;
  Tensor out = Tensor::empty(shape, device(), x.dtype());
  if (out.numel() > 0) max_channels_impl(x, out);
  return out;
}

Tensor Backend::mul_channels(const Tensor& x, const Tensor& m) {
  const char* op = "mul_channels";
  check_operand(op, x, "x");
  check_operand(op, m, "m");
  checked_layout(op, x, "x");
  Shape expected = x.shape();
  expected[1] = 1;
  STEADY_CHECK(m.shape() == expected, op, ": m ", m.str(), " must be ", shape_str(expected),
               " for x ", x.str());
  check_same_dtype(op, x, "x", m, "m");
  Tensor out = Tensor::empty(x.shape(), device(), x.dtype());
  if (out.numel() > 0) mul_channels_impl(x, m, out);
  return out;
}

Tensor Backend::scale_shift(const Tensor& x, double scale, double shift) {
  check_operand("scale_shift", x, "x");
  Tensor out = Tensor::empty_like(x);
  if (x.numel() > 0) scale_shift_impl(x, scale, shift, out);
  return out;
}

void Backend::accumulate(Tensor& dst, const Tensor& src, double alpha) {
  check_operand("accumulate", dst, "dst");
  check_operand("accumulate", src, "src");
  check_same_shape("accumulate", dst, src);
  check_same_dtype("accumulate", dst, "dst", src, "src");
  if (dst.numel() > 0) accumulate_impl(dst, src, alpha);
}

Tensor Backend::sum(const Tensor& x) {
  check_operand("sum", x, "x");
  Tensor out = Tensor::empty({1}, device(), x.dtype());
  sum_impl(x, out);  // an empty x sums to 0
  return out;
}

Tensor Backend::broadcast_scalar(const Tensor& s, const Shape& shape, double scale) {
  check_operand("broadcast_scalar", s, "s");
  STEADY_CHECK(s.numel() == 1, "broadcast_scalar: s must have one element, got ", s.str());
  Tensor out = Tensor::empty(shape, device(), s.dtype());
  if (out.numel() > 0) broadcast_scalar_impl(s, scale, out);
  return out;
}

// ---------------------------------------------------------------- convolution

namespace {

// Grad tensors for a convolution backward: grad_w always, grad_x and grad_b where needed.
ConvGrads conv_grads(const Tensor& x, const Tensor& w, const ConvShape& g, bool transposed,
                     ConvGradsNeeded need) {
  ConvGrads r;
  if (need.x) r.grad_x = Tensor::empty_like(x);
  r.grad_w = Tensor::empty(w.shape(), x.device(), x.dtype());
  if (need.bias) r.grad_b = Tensor::empty({transposed ? g.c_im : g.c_col}, x.device(), x.dtype());
  return r;
}

}  // namespace

// The checks of a convolution's forward (b defined or not) or backward (gy defined): operands on
// this device in one dtype, then the geometry (conv_geometry.h).
ConvShape Backend::check_conv(const char* op, bool transposed, const Tensor& x, const Tensor& w,
                              const Tensor& b, const Tensor& gy, const Conv2dArgs& a) const {
  check_operand(op, x, "x");
  check_operand(op, w, "w");
  check_same_dtype(op, w, "w", x, "x");
  for (auto [t, what] : {std::pair{&b, "b"}, std::pair{&gy, "gy"}}) {
    if (!t->defined()) continue;
    check_operand(op, *t, what);
    check_same_dtype(op, *t, what, x, "x");
  }
  const ConvShape g = conv_shape(op, transposed, x, w, b, a);
  if (gy.defined())
    check_conv_grad_output(op, gy, transposed ? g.image_shape() : g.columns_shape());
  return g;
}

Tensor Backend::conv_forward(bool transposed, const Tensor& x, const Tensor& w, const Tensor& b,
                             Conv2dArgs a) {
  const ConvShape g =
      check_conv(transposed ? "conv_transpose2d" : "conv2d", transposed, x, w, b, Tensor(), a);
  const Shape shape = transposed ? g.image_shape() : g.columns_shape();
  Tensor y = blocked_output(x, shape[1]) ? Tensor::empty_blocked(shape)
                                         : Tensor::empty(shape, device(), x.dtype());
  if (transposed)
    conv_transpose2d_impl(g, x, w, b, y);
  else
    conv2d_impl(g, x, w, b, y);
  return y;
}

ConvGrads Backend::conv_backward(bool transposed, const Tensor& x, const Tensor& w,
                                 ConvGradsNeeded need, const Tensor& gy, Conv2dArgs a) {
  const char* op = transposed ? "conv_transpose2d_backward" : "conv2d_backward";
  const ConvShape g = check_conv(op, transposed, x, w, Tensor(), gy, a);
  ConvGrads r = conv_grads(x, w, g, transposed, need);
  if (transposed)
    conv_transpose2d_backward_impl(g, x, w, gy, r);
  else
    conv2d_backward_impl(g, x, w, gy, r);
  return r;
}

Tensor Backend::conv2d(const Tensor& x, const Tensor& w, const Tensor& b, Conv2dArgs a) {
  return conv_forward(false, x, w, b, a);
}
ConvGrads Backend::conv2d_backward(const Tensor& x, const Tensor& w, ConvGradsNeeded need,
                                   const Tensor& gy, Conv2dArgs a) {
  return conv_backward(false, x, w, need, gy, a);
}
Tensor Backend::conv_transpose2d(const Tensor& x, const Tensor& w, const Tensor& b, Conv2dArgs a) {
  return conv_forward(true, x, w, b, a);
}
ConvGrads Backend::conv_transpose2d_backward(const Tensor& x, const Tensor& w,
                                             ConvGradsNeeded need, const Tensor& gy,
                                             Conv2dArgs a) {
  return conv_backward(true, x, w, need, gy, a);
}

// ---------------------------------------------------------------- resampling and layout

Tensor Backend::max_pool2d(const Tensor& x, int k, int s) {
  const char* op = "max_pool2d";
  check_operand(op, x, "x");
  check_dim(op, x, 4, "x");
  const Shape pooled = pooled_shape(op, x, k, s);
  Tensor y = x.blocked() ? Tensor::empty_blocked(pooled) : Tensor::empty(pooled, device(), x.dtype());
  if (y.numel() > 0) max_pool2d_impl(x, k, s, y);
  return y;
}

Tensor Backend::max_pool2d_backward(const Tensor& x, const Tensor& gy, int k, int s) {
  const char* op = "max_pool2d_backward";
  check_operand(op, x, "x");
  check_operand(op, gy, "gy");
  check_dim(op, x, 4, "x");
  check_same_dtype(op, x, "x", gy, "gy");
  const Shape pooled = pooled_shape(op, x, k, s);
  STEADY_CHECK(gy.shape() == pooled, op, ": gy ", gy.str(), " does not match the pooled shape ",
               shape_str(pooled), " of x ", x.str());
  STEADY_CHECK(x.layout() == gy.layout(), op, ": x ", x.str(), " and gy ", gy.str(),
               " are in different layouts");
  Tensor gx = Tensor::empty_like(x);
  if (gx.numel() > 0) max_pool2d_backward_impl(x, gy, k, s, gx);
  return gx;
}

namespace {
void check_upsample(const char* op, const Tensor& t, const char* what, int factor) {
  check_dim(op, t, 4, what);
  STEADY_CHECK(factor >= 1, op, ": factor must be positive, got ", factor);
}
}  // namespace

Tensor Backend::upsample_nearest2d(const Tensor& x, int factor) {
  const char* op = "upsample_nearest2d";
  check_operand(op, x, "x");
  check_upsample(op, x, "x", factor);
  const Shape up{x.size(0), x.size(1), x.size(2) * factor, x.size(3) * factor};
  Tensor y = x.blocked() ? Tensor::empty_blocked(up) : Tensor::empty(up, device(), x.dtype());
  if (y.numel() > 0) upsample_nearest2d_impl(x, factor, y);
  return y;
}

Tensor Backend::upsample_nearest2d_backward(const Tensor& gy, int factor) {
  const char* op = "upsample_nearest2d_backward";
  check_operand(op, gy, "gy");
  check_upsample(op, gy, "gy", factor);
  STEADY_CHECK(gy.size(2) % factor == 0 && gy.size(3) % factor == 0, op, ": gy ", gy.str(),
               " is not a multiple of the factor ", factor);
  const Shape down{gy.size(0), gy.size(1), gy.size(2) / factor, gy.size(3) / factor};
  Tensor gx = gy.blocked() ? Tensor::empty_blocked(down) : Tensor::empty(down, device(), gy.dtype());
  if (gx.numel() > 0) upsample_nearest2d_backward_impl(gy, factor, gx);
  return gx;
}

Tensor Backend::resize_bilinear(const Tensor& x, int out_h, int out_w) {
  const char* op = "resize_bilinear";
  check_operand(op, x, "x");
  check_dim(op, x, 4, "x");
  STEADY_CHECK(out_h >= 1 && out_w >= 1, op, ": output size ", out_h, "x", out_w,
               " must be positive");
  STEADY_CHECK(x.size(2) >= 1 && x.size(3) >= 1, op, ": empty input ", x.str());
  Tensor y = Tensor::empty({x.size(0), x.size(1), out_h, out_w}, device(), x.dtype());
  if (y.numel() > 0) resize_bilinear_impl(x, y);
  return y;
}

Tensor Backend::resize_bilinear_backward(const Tensor& gy, int in_h, int in_w) {
  const char* op = "resize_bilinear_backward";
  check_operand(op, gy, "gy");
  check_dim(op, gy, 4, "gy");
  STEADY_CHECK(in_h >= 1 && in_w >= 1, op, ": input size ", in_h, "x", in_w, " must be positive");
  STEADY_CHECK(gy.size(2) >= 1 && gy.size(3) >= 1, op, ": empty gy ", gy.str());
  Tensor gx = Tensor::empty({gy.size(0), gy.size(1), in_h, in_w}, device(), gy.dtype());
  if (gx.numel() > 0) resize_bilinear_backward_impl(gy, gx);
  return gx;
}

Tensor Backend::concat_channels(const std::vector<Tensor>& inputs) {
  const char* op = "concat_channels";
  STEADY_CHECK(!inputs.empty(), op, ": no inputs");
  // Blocked inputs stay blocked together; a mix becomes plain (engine/layout.h).
  bool all_blocked = true;
  for (const Tensor& t : inputs) all_blocked = all_blocked && t.blocked();
  std::vector<Tensor> xs;
  for (const Tensor& t : inputs) xs.push_back(all_blocked ? t : plain(t));
  const Tensor& first = xs[0];
  check_operand(op, first, "input 0");
  checked_layout(op, first, "input 0");
  int64_t total_c = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    const Tensor& t = xs[i];
    check_operand(op, t, "an input");
    bool match = t.dim() == first.dim() && t.dtype() == first.dtype();
    for (int d = 0; match && d < t.dim(); ++d) match = d == 1 || t.size(d) == first.size(d);
    STEADY_CHECK(match, op, ": input ", i, " ", t.str(), " does not match input 0 ", first.str(),
                 " outside the channel dimension");
    total_c += t.size(1);
  }
  Shape shape = first.shape();
  shape[1] = total_c;
  Tensor y = all_blocked ? Tensor::empty_blocked(shape) : Tensor::empty(shape, device(), first.dtype());
  if (y.numel() > 0) concat_channels_impl(xs, y);
  return y;
}

Tensor Backend::slice_channels(const Tensor& input, int64_t begin, int64_t end) {
  const char* op = "slice_channels";
  // A blocked slice along whole blocks stays blocked; any other becomes plain.
  const bool keep_blocked =
      input.blocked() && begin % kBlock == 0 && end % kBlock == 0 && end > begin;
  const Tensor x = keep_blocked ? input : plain(input);
  check_operand(op, x, "x");
  checked_layout(op, x, "x");
  const int64_t c = x.size(1);
  STEADY_CHECK(0 <= begin && begin <= end && end <= c, op, ": range [", begin, ", ", end,
               ") out of the ", c, " channels of ", x.str());
  Shape shape = x.shape();
  shape[1] = end - begin;
  Tensor y = keep_blocked ? Tensor::empty_blocked(shape) : Tensor::empty(shape, device(), x.dtype());
  if (y.numel() > 0) slice_channels_impl(x, begin, y);
  return y;
}

// ---------------------------------------------------------------- batch norm

void Backend::check_per_channel(const char* op, const Tensor& t, const char* what,
                                const Tensor& x) const {
  check_operand(op, t, what);
  STEADY_CHECK(t.dim() == 1 && t.size(0) == x.size(1) && t.dtype() == x.dtype(), op, ": ", what,
               " ", t.str(), " must be [", x.size(1), "] of x's dtype, for x ", x.str());
}

Tensor Backend::batch_norm_train(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                 Tensor& running_mean, Tensor& running_var, float momentum,
                                 float eps, BatchNormSaved& saved) {
  const char* op = "batch_norm_train";
  check_operand(op, x, "x");
  const ChannelLayout l = checked_layout(op, x, "x");
  check_per_channel(op, gamma, "gamma", x);
  check_per_channel(op, beta, "beta", x);
  check_per_channel(op, running_mean, "running_mean", x);
  check_per_channel(op, running_var, "running_var", x);
  STEADY_CHECK(l.count() > 1, op,
               ": needs more than one value per channel in training, got x ", x.str());
  Tensor y = Tensor::empty_like(x);
  saved.mean = Tensor::empty({x.size(1)}, device(), x.dtype());
  saved.invstd = Tensor::empty({x.size(1)}, device(), x.dtype());
  batch_norm_train_impl(x, gamma, beta, running_mean, running_var, momentum, eps, saved, y);
  return y;
}

Tensor Backend::batch_norm_eval(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                const Tensor& running_mean, const Tensor& running_var,
                                float eps) {
  const char* op = "batch_norm_eval";
  check_operand(op, x, "x");
  checked_layout(op, x, "x");
  check_per_channel(op, gamma, "gamma", x);
  check_per_channel(op, beta, "beta", x);
  check_per_channel(op, running_mean, "running_mean", x);
  check_per_channel(op, running_var, "running_var", x);
  Tensor y = Tensor::empty_like(x);
  if (y.numel() > 0) batch_norm_eval_impl(x, gamma, beta, running_mean, running_var, eps, y);
  return y;
}

Tensor Backend::batch_norm_backward(const Tensor& x, const Tensor& gamma,
                                    const BatchNormSaved& saved, const Tensor& gy,
                                    Tensor& grad_gamma, Tensor& grad_beta) {
  const char* op = "batch_norm_backward";
  check_operand(op, x, "x");
  checked_layout(op, x, "x");
  check_operand(op, gy, "gy");
  check_same_shape(op, x, gy);
  check_same_dtype(op, x, "x", gy, "gy");
  check_per_channel(op, gamma, "gamma", x);
  check_per_channel(op, saved.mean, "saved.mean", x);
  check_per_channel(op, saved.invstd, "saved.invstd", x);
  if (!grad_gamma.defined()) grad_gamma = Tensor::empty({x.size(1)}, device(), x.dtype());
  if (!grad_beta.defined()) grad_beta = Tensor::empty({x.size(1)}, device(), x.dtype());
  check_per_channel(op, grad_gamma, "grad_gamma", x);
  check_per_channel(op, grad_beta, "grad_beta", x);
  Tensor gx = Tensor::empty_like(x);
  batch_norm_backward_impl(x, gamma, saved, gy, gx, grad_gamma, grad_beta);
  return gx;
}

// ---------------------------------------------------------------- optimizer

void Backend::adam_step(Tensor& params, const Tensor& grads, Tensor& m, Tensor& v,
                        const AdamArgs& a) {
  const char* op = "adam_step";
  check_operand(op, params, "params");
  check_operand(op, grads, "grads");
  check_operand(op, m, "m");
  check_operand(op, v, "v");
  check_same_shape("adam_step (params, grads)", params, grads);
  check_same_shape("adam_step (params, m)", params, m);
  check_same_shape("adam_step (params, v)", params, v);
  check_same_dtype(op, params, "params", grads, "grads");
  check_same_dtype(op, params, "params", m, "m");
  check_same_dtype(op, params, "params", v, "v");
  STEADY_CHECK(a.step >= 1, op, ": step is 1-based and counts this update, got ", a.step);
  STEADY_CHECK(a.beta1 >= 0.f && a.beta1 < 1.f && a.beta2 >= 0.f && a.beta2 < 1.f, op,
               ": betas must lie in [0, 1), got ", a.beta1, ", ", a.beta2);
  adam_step_impl(params, grads, m, v, a);
}

// ---------------------------------------------------------------- warp and regularization losses

// An image [N,C,H,W] and its per-sample matrices [N,6], both on this device.
void Backend::check_warp(const char* op, const Tensor& image, const char* what,
                         const Tensor& matrix) const {
  check_operand(op, image, what);
  check_dim(op, image, 4, what);
  check_operand(op, matrix, "matrix");
  check_matrix(op, matrix, image.size(0));
}

Tensor Backend::warp_affine_forward(const Tensor& x, const Tensor& matrix) {
  check_warp("warp_affine_forward", x, "x", matrix);
  Tensor y = Tensor::empty(x.shape(), device(), x.dtype());
  if (y.numel() > 0) warp_affine_forward_impl(x, matrix, y);
  return y;
}

Tensor Backend::warp_affine_backward(const Tensor& gy, const Tensor& matrix) {
  check_warp("warp_affine_backward", gy, "gy", matrix);
  Tensor gx = Tensor::empty(gy.shape(), device(), gy.dtype());
  if (gx.numel() > 0) warp_affine_backward_impl(gy, matrix, gx);
  return gx;
}

Tensor Backend::warp_valid_mask(const Tensor& matrix, int64_t n, int64_t h, int64_t w) {
  const char* op = "warp_valid_mask";
  check_operand(op, matrix, "matrix");
  STEADY_CHECK(n >= 0 && h > 0 && w > 0, op, ": bad size ", n, "x", h, "x", w);
  check_matrix(op, matrix, n);
  Tensor mask = Tensor::empty({n, 1, h, w}, device(), matrix.dtype());  // the matrix's dtype
  if (mask.numel() > 0) warp_valid_mask_impl(matrix, mask);
  return mask;
}

RegLoss Backend::reg_loss(RegKind kind, const Tensor& fx, const Tensor& ftx, const Tensor& y,
                          const Tensor& matrix, const Tensor& mask) {
  const char* op = "reg_loss";
  check_operand(op, fx, "fx");
  check_operand(op, ftx, "ftx");
  check_dim(op, fx, 4, "fx");
  check_same_shape(op, fx, ftx);
  check_same_dtype(op, fx, "fx", ftx, "ftx");
  const int64_t n = fx.size(0), h = fx.size(2), w = fx.size(3);
  if (kind == RegKind::Jacobian || kind == RegKind::Augment) {
    check_operand(op, y, "y");
    check_same_shape(op, fx, y);
    check_same_dtype(op, fx, "fx", y, "y");
  }
  if (kind != RegKind::Stability) {
    check_operand(op, matrix, "matrix");
    check_matrix(op, matrix, n);
  }
  if (mask.defined()) {
    check_operand(op, mask, "mask");
    STEADY_CHECK(mask.shape() == Shape({n, 1, h, w}), op, ": mask must be [", n, ", 1, ", h, ", ",
                 w, "], got ", mask.str());
  }
  RegLoss out;
  out.loss = Tensor::empty({1}, device(), fx.dtype());
  out.grad_fx = Tensor::empty(fx.shape(), device(), fx.dtype());
  out.grad_ftx = Tensor::empty(fx.shape(), device(), fx.dtype());
  reg_loss_impl(kind, fx, ftx, y, matrix, mask, out);
  return out;
}

// ---------------------------------------------------------------- CpuBackend memory
Device CpuBackend::device() const { return Device::CPU; }

void* CpuBackend::alloc(size_t bytes) { return host_alloc(bytes); }

void CpuBackend::free(void* ptr, size_t bytes) { host_free(ptr, bytes); }

void CpuBackend::copy(void* dst, Device dst_dev, const void* src, Device src_dev, size_t bytes) {
  STEADY_ASSERT(dst_dev == Device::CPU && src_dev == Device::CPU);
  if (bytes > 0) std::memcpy(dst, src, bytes);  // an empty vector's data() may be null
}

void CpuBackend::synchronize() {}

}  // namespace steady
