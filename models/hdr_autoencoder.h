// The HDR reconstruction autoencoder (the paper's Table 2, ~1.29M weights): the design of
// Eilertsen et al. 2017 (HDR-CNN) scaled down. Encoder: four stages of two 3x3 convs + ReLU with
// 2x2 max-pooling between them (16, 32, 64, 128 channels), a batch-normalized latent conv at
// 1/16 resolution. Decoder: per stage a 4x4 transposed conv doubling the resolution, batch norm
// and leaky ReLU, concatenation with the encoder's skip features and a 3x3 fusion conv + ReLU.
// A 1x1 conv over [decoder features, input] predicts log HDR, which is blended with the
// linearized input through the saturation mask a = max(0, max_c x - tau)/(1 - tau), tau = 0.95:
//   out = (1 - a) log(x^2 + eps) + a * prediction        (x^2: the HDR-CNN inverse camera curve)
// Input: LDR [N,3,H,W] in [0,1], H and W multiples of 16. Output: log HDR [N,3,H,W].
#pragma once
#include "models/model.h"

namespace steady {

class HdrAutoencoder final : public Model {
 public:
  static constexpr float kTau = 0.95f;
  static constexpr double kLogEps = 1.0 / 255.0;  // the log domain of data/metrics.h

  HdrAutoencoder();
  Var forward(const Var& x, bool training) override;

 private:
  static constexpr int kWidth = 16;
  Conv enc_[4][2];
  Conv latent_;
  BatchNorm latent_bn_;
  Conv up_[4], fuse_[4];
  BatchNorm up_bn_[4];
  Conv out_;
};

// The saturation mask a(x) of the blend, [N,1,H,W], from an LDR batch [N,3,H,W] (any device).
Tensor hdr_saturation_mask(const Tensor& ldr, float tau = HdrAutoencoder::kTau);

}  // namespace steady
