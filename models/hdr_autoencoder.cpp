#include "models/hdr_autoencoder.h"

#include "engine/layout.h"

namespace steady {

HdrAutoencoder::HdrAutoencoder() : Model({"hdr", 3, 3, 16}) {
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
  // Activations between convolutions stay in oneDNN's layout on the CPU (engine/layout.h).
  BlockedLayoutScope blocked(x.value());
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
  const Tensor a = hdr_saturation_mask(x.value());
  const Var x_log(log(affine(mul(x.value(), x.value()), 1.0, kLogEps)));
  return add(mul_channels(x_log, affine(a, -1.0, 1.0)), mul_channels(prediction, a));
}

Tensor hdr_saturation_mask(const Tensor& ldr, float tau) {
  // max(0, max over channels - tau) / (1 - tau)
  return relu(affine(max_channels(ldr), 1.0 / (1.0 - tau), -tau / (1.0 - tau)));
}

}  // namespace steady
