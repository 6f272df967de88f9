// Host memory for CPU tensors (CpuBackend::alloc/free): 64-byte aligned for vector loads.
//
// Blocks of 1 MiB and more are cached: a freed block goes onto its bucket's free list
// (engine/memory_bucket.h) and serves the next request of that bucket. A training step frees and
// allocates the same large activations every step; from glibc each of them is a fresh mmap whose
// pages fault in one at a time, which cost about a tenth of a CPU training step at 64x64
// (docs/BENCHMARKS.md). The cache holds at most as many bytes as were ever live at once in
// cached-size blocks, so a workload whose sizes change cannot grow it without bound; a block that
// would exceed that goes back to the system. Smaller blocks go straight to malloc, whose arenas
// already reuse them.
#pragma once
#include <cstddef>

namespace steady {

void* host_alloc(size_t bytes);
void host_free(void* ptr, size_t bytes);

struct HostAllocatorStats {
  size_t bytes_in_use = 0;  // large blocks handed out now (bucket sizes)
  size_t peak_bytes = 0;    // the most ever handed out at once; the bound of the cache
  size_t bytes_cached = 0;  // large blocks on the free lists
};
HostAllocatorStats host_allocator_stats();

}  // namespace steady
