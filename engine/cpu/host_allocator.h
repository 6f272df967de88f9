// Host memory for CPU tensors (CpuBackend::alloc/free): 64-byte aligned for vector loads.
//
// Blocks of 64 KiB and more are cached: a freed block goes onto its bucket's free list
// (engine/memory_bucket.h) and serves the next request of that bucket. A training step frees and
// allocates the same activations every step; from glibc each block above its mmap threshold
// (128 KiB to 32 MiB) is a fresh mmap whose pages fault in one at a time, which cost about a
// tenth of a CPU training step (docs/BENCHMARKS.md). The cache keeps what it holds plus what is
// in use within twice the most ever in use at once, so a workload whose sizes change cannot grow
// it without bound; a block beyond that goes back to the system. Smaller blocks go straight to
// malloc, whose arenas already reuse them.
#pragma once
#include <cstddef>

namespace steady {

void* host_alloc(size_t bytes);
void host_free(void* ptr, size_t bytes);

struct HostAllocatorStats {
  size_t bytes_in_use = 0;  // large blocks handed out now (bucket sizes)
  size_t peak_bytes = 0;    // the most ever handed out at once; in use + cached <= twice this
  size_t bytes_cached = 0;  // large blocks on the free lists
};
HostAllocatorStats host_allocator_stats();

}  // namespace steady
