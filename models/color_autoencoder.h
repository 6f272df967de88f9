// The colorization autoencoder of the paper's Table 2: Iizuka et al.'s low-level network
// without the global branch. Thirteen 3x3 convs (Kc = 32), each with a bias; batch norm and ReLU
// after all but the last; three stride-2 convs down, two nearest x2 up-samplings, so ab is
// predicted at half resolution, then resized bilinearly to the input size. The last conv stays
// linear (ab can be negative) and has no batch norm: in training mode one would pin each output
// channel's spread across the batch, so the network could not predict faint colours (and
// transform-invariance fine-tuning collapses into a static blob). 1,568,690 parameters counted as
// Table 2 does (conv weights, biases, batch norm's four values per channel): 8 below its 1,568,698.
// Input: L/50 - 1, [N,1,H,W], H and W multiples of 8. Output: ab/110, [N,2,H,W].
#pragma once
#include "models/model.h"

namespace steady {

class ColorAutoencoder final : public Model {
 public:
  ColorAutoencoder();
  Var forward(const Var& x, bool training) override;

 private:
  struct Layer {
    Conv conv;
    BatchNorm bn;
    bool upsample_before = false;
  };
  std::vector<Layer> layers_;
};

}  // namespace steady
