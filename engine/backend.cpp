#include "engine/backend.h"

#include <cstdlib>
#include <cstring>

#include "engine/cpu/cpu_backend.h"

namespace steady {

Backend& cpu_backend() {
  static CpuBackend cpu;
  return cpu;
}

namespace {
thread_local int64_t t_host_syncs = 0;
}
void count_host_sync() { ++t_host_syncs; }
int64_t host_sync_count() { return t_host_syncs; }

Backend& backend(Device d) { return d == Device::CPU ? cpu_backend() : cuda_backend(); }

Device parse_device(const std::string& name) {
  if (name == "cpu") return Device::CPU;
  if (name == "cuda") {
    cuda_backend();  // throws a clear error when there is none
    return Device::CUDA;
  }
  if (name == "auto") return cuda_available() ? Device::CUDA : Device::CPU;
  fail("--device must be auto, cpu or cuda, got '", name, "'");
}

// ---- CpuBackend memory: 64-byte aligned for vector loads.
Device CpuBackend::device() const { return Device::CPU; }

void* CpuBackend::alloc(size_t bytes) {
  size_t rounded = (bytes + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, rounded);
  if (!p) fail("out of host memory allocating ", bytes, " bytes");
  return p;
}

void CpuBackend::free(void* ptr, size_t) { std::free(ptr); }

void CpuBackend::copy(void* dst, Device dst_dev, const void* src, Device src_dev, size_t bytes) {
  STEADY_ASSERT(dst_dev == Device::CPU && src_dev == Device::CPU);
  if (bytes > 0) std::memcpy(dst, src, bytes);  // an empty vector's data() may be null
}

void CpuBackend::synchronize() {}

}  // namespace steady
