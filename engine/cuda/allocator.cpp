// The caching allocator (see allocator.h). One instance per process, never destroyed: tensors
// held by static objects may still be freed while the process exits.
#include "engine/cuda/allocator.h"

#include "engine/backend.h"

#include <cstdio>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "engine/cuda/runtime.h"
#include "engine/memory_bucket.h"

namespace steady {
namespace cuda {

namespace {

constexpr size_t kGuardBytes = 256;
constexpr unsigned char kGuardByte = 0xA5;

using FreeLists = std::unordered_map<size_t, std::vector<void*>>;

struct Block {
  size_t size = 0;       // bucket size: what the block really holds
  size_t requested = 0;  // what the caller asked for; the guard starts here
  bool guarded = false;
  int pool = 0;          // graph pool that owns the block, 0 for the shared cache
};

void* take(FreeLists& lists, size_t size) {
  auto it = lists.find(size);
  if (it == lists.end() || it->second.empty()) return nullptr;
  void* p = it->second.back();
  it->second.pop_back();
  return p;
}

class CachingAllocator {
 public:
  void* alloc(size_t bytes) {
    std::lock_guard<std::mutex> lock(mu_);
    // The guard bytes are reserved whenever checks are on, so a captured step asks for the same
    // buckets as its warm-up; they are written and checked only outside a capture (the check is
    // a synchronous read).
    const size_t size = bucket_size(guard_checks_ ? bytes + kGuardBytes : bytes);
    const bool guarded = guard_checks_ && capture_pool_ == 0;
    void* p = nullptr;
    if (capture_pool_ != 0) {
      p = take(pools_[capture_pool_], size);
      if (!p) p = take(shared_free_, size);
      STEADY_CHECK(p != nullptr, "CUDA graph capture: the step needs a new block of ", size,
                   " bytes, and cudaMalloc is not allowed while capturing; run the same step ",
                   "once uncaptured first (shapes must not change between warm-up and capture)");
    } else {
      p = take(shared_free_, size);
      if (!p) p = driver_alloc(size, bytes);
    }
    if (guarded) {
      const cudaError_t err = cudaMemsetAsync(static_cast<char*>(p) + bytes, kGuardByte,
                                              kGuardBytes, stream());
      if (err != cudaSuccess) shared_free_[size].push_back(p);  // not handed out: keep it cached
      CUDA_CHECK(err);
    }
    live_[p] = Block{size, bytes, guarded, capture_pool_};
    stats_.allocations += 1;
    stats_.bytes_in_use += size;
    if (stats_.bytes_in_use > stats_.peak_bytes) stats_.peak_bytes = stats_.bytes_in_use;
    return p;
  }

  // Runs in destructors: never throws; problems are recorded as guard violations.
  void free(void* ptr, size_t bytes) {
    if (!ptr) return;
    std::lock_guard<std::mutex> lock(mu_);
    auto it = live_.find(ptr);
    if (it == live_.end()) {
      record_violation("free of a pointer the allocator did not hand out");
      return;
    }
    const Block b = it->second;
    live_.erase(it);
    if (b.requested != bytes) record_violation("free with a size that differs from the allocation");
    if (b.guarded && capture_pool_ == 0) check_guard(ptr, b);
    stats_.bytes_in_use -= b.size;
    // A block freed during a capture may be touched by the graph's replays: keep it in the
    // graph's pool even when it was allocated before the capture.
    int pool = b.pool != 0 ? b.pool : capture_pool_;
    if (pool != 0 && pools_.count(pool) == 0) pool = 0;  // its graph is gone
    FreeLists& lists = pool != 0 ? pools_[pool] : shared_free_;
    lists[b.size].push_back(ptr);
  }

  AllocatorStats stats() {
    std::lock_guard<std::mutex> lock(mu_);
    return stats_;
  }

  void reset_peak() {
    std::lock_guard<std::mutex> lock(mu_);
    stats_.peak_bytes = stats_.bytes_in_use;
  }

  void empty_cache() {
    std::lock_guard<std::mutex> lock(mu_);
    STEADY_CHECK(capture_pool_ == 0, "allocator: empty_cache() during a CUDA graph capture");
    release_shared_cache();
  }

  void set_guard_checks(bool on) {
    std::lock_guard<std::mutex> lock(mu_);
    guard_checks_ = on;
  }

  std::string first_violation() {
    std::lock_guard<std::mutex> lock(mu_);
    return first_violation_;
  }

  int begin_pool() {
    std::lock_guard<std::mutex> lock(mu_);
    STEADY_CHECK(capture_pool_ == 0, "allocator: a CUDA graph capture is already in progress");
    const int id = next_pool_++;
    pools_[id];
    capture_pool_ = id;
    return id;
  }

  void end_pool() {
    std::lock_guard<std::mutex> lock(mu_);
    capture_pool_ = 0;
  }

  void release_pool(int id) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = pools_.find(id);
    if (it == pools_.end()) return;
    for (auto& [size, blocks] : it->second) {
      std::vector<void*>& dst = shared_free_[size];
      dst.insert(dst.end(), blocks.begin(), blocks.end());
    }
    pools_.erase(it);
    for (auto& [ptr, block] : live_)
      if (block.pool == id) block.pool = 0;
    if (capture_pool_ == id) capture_pool_ = 0;
  }

 private:
  void* driver_alloc(size_t size, size_t requested) {
    void* p = nullptr;
    cudaError_t err = cudaMalloc(&p, size);
    if (err == cudaErrorMemoryAllocation) {
      cudaGetLastError();  // clear it; the retry decides
      release_shared_cache();
      err = cudaMalloc(&p, size);
      if (err == cudaErrorMemoryAllocation) {
        cudaGetLastError();
        fail("CUDA out of memory allocating ", requested, " bytes (in use ", stats_.bytes_in_use,
             " bytes, peak ", stats_.peak_bytes, " bytes)");
      }
    }
    if (err != cudaSuccess) {
      fail_call(__FILE__, __LINE__, "CUDA", "cudaMalloc", cudaGetErrorName(err),
                cudaGetErrorString(err));
    }
    stats_.driver_allocations += 1;
    stats_.bytes_reserved += size;
    return p;
  }

  // Gives the shared cache's blocks back to the driver (graph pools keep theirs).
  void release_shared_cache() {
    ::steady::count_host_sync();
    CUDA_CHECK(cudaStreamSynchronize(stream()));
    for (auto& [size, blocks] : shared_free_) {
      for (void* p : blocks) {
        CUDA_CHECK(cudaFree(p));
        stats_.driver_frees += 1;
        stats_.bytes_reserved -= size;
      }
    }
    shared_free_.clear();
  }

  void check_guard(void* ptr, const Block& b) {
    unsigned char host[kGuardBytes];
    cudaError_t err = cudaMemcpyAsync(host, static_cast<const char*>(ptr) + b.requested,
                                      kGuardBytes, cudaMemcpyDeviceToHost, stream());
    if (err == cudaSuccess) err = cudaStreamSynchronize(stream());
    if (err != cudaSuccess) {
      cudaGetLastError();
      record_violation(std::string("guard check could not read the device: ") +
                       cudaGetErrorString(err));
      return;
    }
    for (size_t i = 0; i < kGuardBytes; ++i) {
      if (host[i] != kGuardByte) {
        char msg[160];
        std::snprintf(msg, sizeof msg,
                      "a write past the end of a %zu-byte block: guard byte %zu is 0x%02x",
                      b.requested, i, static_cast<unsigned>(host[i]));
        record_violation(msg);
        return;
      }
    }
  }

  void record_violation(const std::string& what) {
    stats_.guard_violations += 1;
    if (first_violation_.empty()) first_violation_ = what;
  }

  std::mutex mu_;
  FreeLists shared_free_;
  std::unordered_map<int, FreeLists> pools_;
  std::unordered_map<void*, Block> live_;
  int capture_pool_ = 0;
  int next_pool_ = 1;
  bool guard_checks_ = false;
  AllocatorStats stats_;
  std::string first_violation_;
};

CachingAllocator& allocator() {
  static CachingAllocator* instance = new CachingAllocator();
  return *instance;
}

}  // namespace

void* device_alloc(size_t bytes) { return allocator().alloc(bytes); }
void device_free(void* ptr, size_t bytes) { allocator().free(ptr, bytes); }
AllocatorStats allocator_stats() { return allocator().stats(); }
void reset_peak_bytes() { allocator().reset_peak(); }
void empty_cache() { allocator().empty_cache(); }
void set_guard_checks(bool on) { allocator().set_guard_checks(on); }
std::string first_guard_violation() { return allocator().first_violation(); }
int begin_graph_pool() { return allocator().begin_pool(); }
void end_graph_pool() { allocator().end_pool(); }
void release_graph_pool(int id) { allocator().release_pool(id); }

}  // namespace cuda
}  // namespace steady
