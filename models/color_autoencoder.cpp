#include "models/color_autoencoder.h"

#include "engine/layout.h"

namespace steady {

ColorAutoencoder::ColorAutoencoder() : Model({"color", 1, 2, 8}) {
  const int K = 32;
  struct Spec {
    const char* name;
    int ci, co, stride;
    bool upsample_before;
  };
  const Spec specs[] = {
      {"conv11", 1, K, 2, false},          {"conv21", K, 2 * K, 1, false},
      {"conv22", 2 * K, 2 * K, 2, false},  {"conv31", 2 * K, 4 * K, 1, false},
      {"conv32", 4 * K, 4 * K, 2, false},  {"conv41", 4 * K, 8 * K, 1, false},
      {"conv42", 8 * K, 8 * K, 1, false},  {"conv43", 8 * K, 4 * K, 1, false},
      {"conv44", 4 * K, 2 * K, 1, false},  {"conv51", 2 * K, K, 1, true},
      {"conv52", K, K, 1, false},          {"conv61", K, K / 2, 1, true},
      {"conv62", K / 2, 2, 1, false},
  };
  const size_t n = std::size(specs);
  for (size_t i = 0; i < n; ++i) {
    const Spec& s = specs[i];
    Layer l;
    l.conv = add_conv(s.name, s.ci, s.co, 3, s.stride);
    // No batch norm on the output (see the header): it would pin each ab channel's spread.
    if (i + 1 < n) l.bn = add_batch_norm(std::string(s.name) + "_bn", s.co);
    l.upsample_before = s.upsample_before;
    layers_.push_back(l);
  }
}

Var ColorAutoencoder::forward(const Var& x, bool training) {
  STEADY_CHECK(x.value().dim() == 4 && x.shape()[1] == 1 && x.shape()[2] % 8 == 0 &&
                   x.shape()[3] % 8 == 0,
               "color model: input must be [N,1,H,W] with H and W multiples of 8, got ",
               x.value().str());
  // Activations between convolutions stay in oneDNN's layout on the CPU (engine/layout.h).
  BlockedLayoutScope blocked(x.value());
  Var h = x;
  for (size_t i = 0; i < layers_.size(); ++i) {
    if (layers_[i].upsample_before) h = upsample_nearest2d(h, 2);
    h = apply(layers_[i].conv, h);
    if (i + 1 < layers_.size()) h = relu(apply(layers_[i].bn, h, training));
  }
  return resize_bilinear(h, static_cast<int>(x.shape()[2]), static_cast<int>(x.shape()[3]));
}

}  // namespace steady
