// The caching allocator behind every CUDA tensor (CudaBackend::alloc/free). Sizes are rounded
// up to a bucket (engine/memory_bucket.h); a freed
// block goes onto its bucket's free list (last in, first out) and is handed out again to the
// next request of the same bucket. Memory goes back to the driver only through empty_cache(),
// or once when cudaMalloc fails (then the allocation is retried). Since all work runs on one
// stream, a block freed by the host may be reused at once: the next kernel that touches it is
// queued behind the last one that used it.
//
// CUDA graphs (engine/cuda/graph.h): while a graph is captured, allocations come from cached
// blocks only (never from cudaMalloc, which capture forbids) and the blocks belong to the graph's
// private pool, so that nothing outside the graph is handed memory that a replay writes to.
//
// Guard checks (tests): each block gets 256 extra bytes filled with a pattern after the
// requested size, checked when the block is freed; a damaged guard is counted, not thrown
// (free runs in destructors). Plain C++ header: tools and tests include it without CUDA headers.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace steady {
namespace cuda {

struct AllocatorStats {
  int64_t driver_allocations = 0;  // successful cudaMalloc calls
  int64_t driver_frees = 0;        // cudaFree calls (empty_cache and the out-of-memory retry)
  int64_t allocations = 0;         // requests served, from the cache or the driver
  size_t bytes_in_use = 0;         // rounded sizes of the live blocks
  size_t peak_bytes = 0;           // the largest bytes_in_use since start or reset_peak_bytes()
  size_t bytes_reserved = 0;       // held from the driver: live plus cached blocks
  int64_t guard_violations = 0;    // blocks whose guard bytes were overwritten
};

void* device_alloc(size_t bytes);
void device_free(void* ptr, size_t bytes);

AllocatorStats allocator_stats();
void reset_peak_bytes();
// Returns every cached (free, not graph-owned) block to the driver. Waits for the device.
void empty_cache();

// Guard checks for blocks allocated from now on (tests turn them on; they cost a device sync
// per free). The description of the first violation seen, empty when none.
void set_guard_checks(bool on);
std::string first_guard_violation();

// Graph pools, used by StepGraph while it captures. begin_graph_pool() starts serving requests
// from cached blocks only, owned by a new pool whose id it returns; end_graph_pool() goes back to
// normal; release_graph_pool(id) gives the pool's blocks back to the shared cache.
int begin_graph_pool();
void end_graph_pool();
void release_graph_pool(int id);

}  // namespace cuda
}  // namespace steady
