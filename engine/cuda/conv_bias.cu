// Bias add and bias gradient of the CUDA convolutions, float32 NCHW:
//   add_channel_bias: y[b, c, i] += bias[c]           (one thread per element)
//   channel_sum:      out[c] = sum over b, i of x[b, c, i]   (one block per channel, double,
//                     fixed tree: deterministic, no atomics)
// CPU twin: add_bias and bias_grad in engine/cpu/conv.cpp. Tested through the convolutions in
// tests/gpu_ops (conv2d and conv_transpose2d with bias, forward and backward, against the CPU).
#include "engine/cuda/conv_bias.h"
#include "engine/cuda/reduce.cuh"
#include "engine/cuda/runtime.h"

namespace steady {
namespace cuda {

namespace {

constexpr int kThreads = 256;

__global__ void add_channel_bias_kernel(float* y, const float* bias, int64_t total,
                                        int64_t channels, int64_t plane) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    y[i] += bias[(i / plane) % channels];
  }
}

__global__ void channel_sum_kernel(const float* x, float* out, int64_t n, int64_t channels,
                                   int64_t plane) {
  __shared__ double shared[kThreads];
  const int64_t c = blockIdx.x;
  double acc = 0.0;
  for (int64_t b = 0; b < n; ++b) {
    const float* p = x + (b * channels + c) * plane;
    for (int64_t i = threadIdx.x; i < plane; i += kThreads) acc += static_cast<double>(p[i]);
  }
  const double total = block_sum<kThreads>(acc, shared);
  if (threadIdx.x == 0) out[c] = static_cast<float>(total);
}

}  // namespace

void add_channel_bias(float* y, const float* bias, int64_t n, int64_t channels, int64_t plane) {
  const int64_t total = n * channels * plane;
  if (total == 0) return;
  add_channel_bias_kernel<<<grid_for(total, kThreads), kThreads, 0, stream()>>>(
      y, bias, total, channels, plane);
  CUDA_CHECK_LAUNCH("add_channel_bias_kernel");
}

void channel_sum(const float* x, float* out, int64_t n, int64_t channels, int64_t plane) {
  if (channels == 0) return;
  STEADY_CHECK(channels <= 0x7fffffff, "channel_sum: too many channels (", channels, ")");
  channel_sum_kernel<<<static_cast<unsigned int>(channels), kThreads, 0, stream()>>>(
      x, out, n, channels, plane);
  CUDA_CHECK_LAUNCH("channel_sum_kernel");
}

}  // namespace cuda
}  // namespace steady
