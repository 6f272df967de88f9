// Block-wide sum in double with a fixed tree: the result depends only on the values and the
// block size, never on scheduling, so reductions built from it are deterministic (no atomics).
#pragma once

namespace steady {
namespace cuda {

// Every thread of the block must call it (it contains barriers) with the same `shared`, a
// __shared__ array of kThreads doubles; kThreads is blockDim.x and a power of two. All threads
// get the total.
template <int kThreads>
__device__ double block_sum(double v, double* shared) {
  static_assert((kThreads & (kThreads - 1)) == 0, "block_sum: kThreads must be a power of two");
  shared[threadIdx.x] = v;
  __syncthreads();
  for (int half = kThreads / 2; half > 0; half /= 2) {
    if (static_cast<int>(threadIdx.x) < half) shared[threadIdx.x] += shared[threadIdx.x + half];
    __syncthreads();
  }
  const double total = shared[0];
  __syncthreads();  // shared may be reused right after
  return total;
}

}  // namespace cuda
}  // namespace steady
