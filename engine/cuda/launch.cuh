// The launch helpers shared by the CUDA kernels: one grid-stride loop over a flat range, and the
// 1-D launch of such a loop on the backend's stream.
#pragma once
#include <cstdint>

#include "engine/cuda/runtime.h"

namespace steady {
namespace cuda {

// Threads per block of the flat elementwise kernels.
constexpr int kFlatThreads = 256;

}  // namespace cuda
}  // namespace steady

// for (i over [0, n)) spread over the whole grid, 64-bit indices.
#define STEADY_GRID_STRIDE_LOOP(i, n)                                                     \
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < (n); \
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)

// kernel<<<grid for n, kFlatThreads, 0, stream>>>(args...), then the launch check naming it.
#define STEADY_LAUNCH_FLAT(kernel, n, ...)                                                   \
  do {                                                                                     \
    kernel<<<::steady::cuda::grid_for((n), ::steady::cuda::kFlatThreads),                  \
             ::steady::cuda::kFlatThreads, 0, ::steady::cuda::stream()>>>(__VA_ARGS__);    \
    CUDA_CHECK_LAUNCH(#kernel);                                                            \
  } while (0)
