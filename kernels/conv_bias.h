// The two per-channel kernels around cuDNN's convolutions (kernels/conv.cu): the bias add
// of the forward pass and the bias gradient. Kernels in kernels/conv_bias.cu.
#pragma once
#include <cstdint>

namespace steady {
namespace cuda {

// y[b, c, i] += bias[c] for y [n, channels, plane], on the runtime's stream.
void add_channel_bias(float* y, const float* bias, int64_t n, int64_t channels, int64_t plane);

// out[c] = sum of x[b, c, i] over b and i, in double with a fixed tree (deterministic).
void channel_sum(const float* x, float* out, int64_t n, int64_t channels, int64_t plane);

}  // namespace cuda
}  // namespace steady
