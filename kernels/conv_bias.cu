// Bias add and bias gradient of the CUDA convolutions, float32 NCHW:
//   add_channel_bias: y[b, c, i] += bias[c]           (one thread per element)
//   channel_sum:      out[c] = sum over b, i of x[b, c, i]   (a channels x splits grid of
//                     partial sums in double, then each channel's partials in split order:
//                     deterministic, no atomics; engine/cuda/reduce.cuh)
// CPU twin: add_bias and bias_grad in kernels/conv.cpp. Tested through the convolutions in
// tests/gpu_ops (conv2d and conv_transpose2d with bias, forward and backward, against the CPU).
#include "kernels/conv_bias.h"
#include "engine/cuda/reduce.cuh"
#include "engine/cuda/runtime.h"
#include "engine/tensor.h"

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

// Block (c, s): the sum of split s of channel c.
__global__ void channel_sum_partial_kernel(const float* x, double* partial, int64_t n,
                                           int64_t channels, int64_t plane, int64_t chunk) {
  __shared__ double shared[kThreads];
  const SplitRange r = split_range(plane, chunk);
  double acc = 0.0;
  for (int64_t b = 0; b < n; ++b) {
    const float* p = x + (b * channels + r.c) * plane;
    for (int64_t i = r.begin + threadIdx.x; i < r.end; i += kThreads) acc += static_cast<double>(p[i]);
  }
  const double total = block_sum<kThreads>(acc, shared);
  if (threadIdx.x == 0) partial[r.c * gridDim.y + blockIdx.y] = total;
}

// Thread c: channel c's partials in split order.
__global__ void channel_sum_finish_kernel(const double* partial, float* out, int64_t channels,
                                          int64_t splits) {
  const int64_t c = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (c >= channels) return;
  double total = 0.0;
  for (int64_t s = 0; s < splits; ++s) total += partial[c * splits + s];
  out[c] = static_cast<float>(total);
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
  const ChannelSplit cs = channel_split(channels, plane, kThreads, device_properties().multiProcessorCount);
  Tensor partial = Tensor::empty({channels * cs.splits}, Device::CUDA, DType::F64);
  channel_sum_partial_kernel<<<dim3(static_cast<unsigned>(channels), static_cast<unsigned>(cs.splits)),
                               kThreads, 0, stream()>>>(x, partial.data<double>(), n, channels,
                                                        plane, cs.chunk);
  CUDA_CHECK_LAUNCH("channel_sum_partial_kernel");
  channel_sum_finish_kernel<<<grid_for(channels, kThreads), kThreads, 0, stream()>>>(
      partial.data<double>(), out, channels, cs.splits);
  CUDA_CHECK_LAUNCH("channel_sum_finish_kernel");
}

}  // namespace cuda
}  // namespace steady
