// The host caching allocator (see host_allocator.h).
#include "engine/cpu/host_allocator.h"

#include <cstdlib>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "engine/error.h"
#include "engine/memory_bucket.h"

namespace steady {
namespace {

constexpr size_t kCachedFrom = size_t(64) << 10;
constexpr size_t kAlignment = 64;

void* system_alloc(size_t bytes) {
  void* p = std::aligned_alloc(kAlignment, (bytes + kAlignment - 1) / kAlignment * kAlignment);
  if (!p) fail("out of host memory allocating ", bytes, " bytes");
  return p;
}

class HostCache {
 public:
  void* alloc(size_t bytes) {
    const size_t size = bucket_size(bytes);
    {
      std::lock_guard<std::mutex> lock(mu_);
      stats_.bytes_in_use += size;
      if (stats_.bytes_in_use > stats_.peak_bytes) stats_.peak_bytes = stats_.bytes_in_use;
      auto it = free_.find(size);
      if (it != free_.end() && !it->second.empty()) {
        void* p = it->second.back();
        it->second.pop_back();
        stats_.bytes_cached -= size;
        return p;
      }
    }
    try {
      return system_alloc(size);
    } catch (...) {
      std::lock_guard<std::mutex> lock(mu_);
      stats_.bytes_in_use -= size;
      throw;
    }
  }

  void free(void* ptr, size_t bytes) {
    const size_t size = bucket_size(bytes);
    {
      std::lock_guard<std::mutex> lock(mu_);
      stats_.bytes_in_use -= size;
      if (stats_.bytes_in_use + stats_.bytes_cached + size <= 2 * stats_.peak_bytes) {
        free_[size].push_back(ptr);
        stats_.bytes_cached += size;
        return;
      }
    }
    std::free(ptr);
  }

  HostAllocatorStats stats() {
    std::lock_guard<std::mutex> lock(mu_);
    return stats_;
  }

 private:
  std::mutex mu_;
  std::unordered_map<size_t, std::vector<void*>> free_;
  HostAllocatorStats stats_;
};

// Never destroyed: tensors held by static objects may still be freed while the process exits.
HostCache& cache() {
  static HostCache* instance = new HostCache();
  return *instance;
}

}  // namespace

void* host_alloc(size_t bytes) {
  return bytes >= kCachedFrom ? cache().alloc(bytes) : system_alloc(bytes);
}

void host_free(void* ptr, size_t bytes) {
  if (!ptr) return;
  if (bytes >= kCachedFrom) {
    cache().free(ptr, bytes);
  } else {
    std::free(ptr);
  }
}

HostAllocatorStats host_allocator_stats() { return cache().stats(); }

}  // namespace steady
