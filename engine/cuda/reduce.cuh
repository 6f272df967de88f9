// Block-wide sum in double with a fixed tree: the result depends only on the values and the
// block size, never on scheduling, so reductions built from it are deterministic (no atomics).
// And the 2-D (channels x splits) layout of the per-channel reductions (batch norm, bias
// gradient).
#pragma once
#include <cstdint>

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

// The sum of x[begin, end) over the block in double, each thread striding by kThreads, then
// block_sum: a fixed order. Every thread calls it, as block_sum.
template <int kThreads, class T>
__device__ double block_sum_range(const T* x, int64_t begin, int64_t end, double* shared) {
  double acc = 0.0;
  for (int64_t i = begin + threadIdx.x; i < end; i += kThreads) acc += static_cast<double>(x[i]);
  return block_sum<kThreads>(acc, shared);
}

// The first pass of a whole-tensor sum: block b adds x[b*kChunk, (b+1)*kChunk) into partial[b];
// a one-block pass of block_sum_range over the partials finishes it.
template <int kThreads, int64_t kChunk>
__global__ void sum_chunks_kernel(const float* x, int64_t n, double* partial) {
  __shared__ double shared[kThreads];
  const int64_t begin = blockIdx.x * kChunk;
  const double total = block_sum_range<kThreads>(x, begin, begin + kChunk < n ? begin + kChunk : n, shared);
  if (threadIdx.x == 0) partial[blockIdx.x] = total;
}

// Per-channel reductions over x [n, channels, plane] on a 2-D grid that fills the chip: block
// (c, s) = (blockIdx.x, blockIdx.y) covers split s of channel c, the plane positions
// [s*chunk, (s+1)*chunk) of every sample, and writes one partial per split; a finishing pass
// adds channel c's partials in split order. The split count depends only on the shape and the
// device, so results are deterministic (no atomics).
struct ChannelSplit {
  int64_t splits = 1, chunk = 0;
};

// About four blocks per multiprocessor in all, each split at least `threads` positions wide.
inline ChannelSplit channel_split(int64_t channels, int64_t plane, int threads, int sm_count) {
  ChannelSplit cs;
  const int64_t target = 4 * static_cast<int64_t>(sm_count > 0 ? sm_count : 1);
  const int64_t by_chip = (target + channels - 1) / (channels > 0 ? channels : 1);
  const int64_t by_plane = (plane + threads - 1) / threads;
  cs.splits = by_chip < by_plane ? by_chip : by_plane;
  if (cs.splits > 65535) cs.splits = 65535;
  if (cs.splits < 1) cs.splits = 1;
  cs.chunk = (plane + cs.splits - 1) / cs.splits;
  if (cs.chunk < 1) cs.chunk = 1;
  cs.splits = (plane + cs.chunk - 1) / cs.chunk;
  if (cs.splits < 1) cs.splits = 1;
  return cs;
}

// The element offsets [begin, end) of this block's split within sample b's plane of channel c.
struct SplitRange {
  int64_t c, begin, end;
};
__device__ inline SplitRange split_range(int64_t plane, int64_t chunk) {
  SplitRange r;
  r.c = blockIdx.x;
  r.begin = static_cast<int64_t>(blockIdx.y) * chunk;
  r.end = r.begin + chunk < plane ? r.begin + chunk : plane;
  return r;
}

}  // namespace cuda
}  // namespace steady
