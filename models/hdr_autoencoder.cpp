#include "models/hdr_autoencoder.h"

namespace steady {

HdrAutoencoder::HdrAutoencoder() {
  const int K = kWidth;
  int widths[4] = {K, 2 * K, 4 * K, 8 * K};
  int in = 3;
  for (int s = 0; s < 4; ++s) {
    std::string stage = "enc" + std::to_string(s + 1);
    enc_[s][0] = add_conv(stage + "a", in, widths[s], 3);
    enc_[s][1] = add_conv(stage + "b", widths[s], widths[s], 3);
    in = widths[s];
  }
  latent_ = add_conv("latent", 8 * K, 8 * K, 3);
  latent_bn_ = add_batch_norm("latent_bn", 8 * K);
  in = 8 * K;
  for (int s = 3; s >= 0; --s) {
    std::string stage = "dec" + std::to_string(s + 1);
    up_[s] = add_upconv(stage + "_up", in, widths[s]);
    up_bn_[s] = add_batch_norm(stage + "_bn", widths[s]);
    fuse_[s] = add_conv(stage + "_fuse", 2 * widths[s], widths[s], 3);
    in = widths[s];
  }
  out_ = add_conv("out", K + 3, 3, 1);
}

Var HdrAutoencoder::forward(const Var& x, bool training) {
  STEADY_CHECK(x.value().dim() == 4 && x.shape()[1] == 3 && x.shape()[2] % size_multiple() == 0 &&
                   x.shape()[3] % size_multiple() == 0,
               "hdr model: input must be [N,3,H,W] with H and W multiples of 16, got ",
               x.value().str());
  Var h = scale_shift(x, 2.0, -1.0);
  Var skips[4];
  for (int s = 0; s < 4; ++s) {
    if (s > 0) h = max_pool2d(h, 2, 2);
    h = relu(apply(enc_[s][0], h));
    h = relu(apply(enc_[s][1], h));
    skips[s] = h;
  }
  h = leaky_relu(apply(latent_bn_, apply(latent_, max_pool2d(h, 2, 2)), training), 0.2f);
  for (int s = 3; s >= 0; --s) {
    h = leaky_relu(apply(up_bn_[s], apply(up_[s], h), training), 0.2f);
    h = relu(apply(fuse_[s], concat_channels({h, skips[s]})));
  }
  Var prediction = apply(out_, concat_channels({h, x}));

  // Blend: the mask and the linearized input are constants (no gradient to the input).
  Tensor a = hdr_saturation_mask(x.value());
  Backend& b = backend_of(a);
  Var a3(b.concat_channels({a, a, a}));
  Var one_minus_a3(b.scale_shift(a3.value(), -1.0, 1.0));
  Tensor x2 = b.binary(BinaryOp::Mul, x.value(), x.value());
  Var x_log(b.unary(UnaryOp::Log, b.scale_shift(x2, 1.0, kLogEps), 0.f));
  return add(mul(one_minus_a3, x_log), mul(a3, prediction));
}

Tensor hdr_saturation_mask(const Tensor& ldr, float tau) {
  // max over channels, then max(0, m - tau) / (1 - tau), using only backend ops:
  // max(a, b) = relu(a - b) + b.
  Backend& b = backend_of(ldr);
  Tensor m = b.slice_channels(ldr, 0, 1);
  for (int64_t c = 1; c < ldr.size(1); ++c) {
    Tensor next = b.slice_channels(ldr, c, c + 1);
    m = b.binary(BinaryOp::Add, b.unary(UnaryOp::Relu, b.binary(BinaryOp::Sub, next, m), 0.f), m);
  }
  return b.unary(UnaryOp::Relu, b.scale_shift(m, 1.0 / (1.0 - tau), -tau / (1.0 - tau)), 0.f);
}

}  // namespace steady
