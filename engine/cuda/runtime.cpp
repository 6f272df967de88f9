// The CUDA runtime (stream, handles, switches), the error checks, device discovery and the
// CudaBackend's memory members. The runtime object is created on first use and never destroyed:
// tensors in static objects may be freed during exit, after any static backend would be gone,
// and the driver releases the device's memory when the process ends.
#include "engine/cuda/runtime.h"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <string>

#include "engine/cuda/allocator.h"
#include "engine/cuda/cuda_backend.h"

namespace steady {
namespace cuda {

namespace {

// "1", "on", anything but "" and "0" turns a switch on.
bool env_flag(const char* name) {
  const char* v = std::getenv(name);
  return v && *v && std::strcmp(v, "0") != 0;
}

// The path from the repository root, not the build machine's absolute path.
const char* short_path(const char* file) {
  for (const char* root : {"/engine/", "/kernels/", "/tests/", "/tools/"}) {
    const char* at = std::strstr(file, root);
    if (at) return at + 1;
  }
  return file;
}

struct Runtime {
  cudaStream_t stream = nullptr;
  cudnnHandle_t cudnn = nullptr;
  cublasHandle_t cublas = nullptr;
  cudaDeviceProp props{};
  bool tf32 = false;
  size_t workspace_limit = size_t(1024) << 20;

  Runtime() {
    tf32 = env_flag("STEADY_TF32");
    if (const char* mb = std::getenv("STEADY_CUDNN_WORKSPACE_MB")) {
      char* end = nullptr;
      const long long v = std::strtoll(mb, &end, 10);
      STEADY_CHECK(end != mb && *end == '\0' && v >= 0 && v <= (1LL << 30),
                   "STEADY_CUDNN_WORKSPACE_MB must be a size in MiB, got '", mb, "'");
      workspace_limit = static_cast<size_t>(v) << 20;
    }
    CUDA_CHECK(cudaSetDevice(0));
    CUDA_CHECK(cudaGetDeviceProperties(&props, 0));
    // Non-blocking: no implicit synchronization with the legacy default stream, which nothing
    // of ours uses.
    CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
    CUDNN_CHECK(cudnnCreate(&cudnn));
    CUDNN_CHECK(cudnnSetStream(cudnn, stream));
    CUBLAS_CHECK(cublasCreate(&cublas));
    CUBLAS_CHECK(cublasSetStream(cublas, stream));
    // CUBLAS_DEFAULT_MATH keeps float32 GEMMs in float32 (no TF32 tensor cores).
    CUBLAS_CHECK(cublasSetMathMode(cublas, tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
  }
};

Runtime& runtime() {
  static Runtime* instance = new Runtime();
  return *instance;
}

std::atomic<bool>& deterministic_flag() {
  static std::atomic<bool> flag{env_flag("STEADY_DETERMINISTIC")};
  return flag;
}

}  // namespace

void fail_call(const char* file, int line, const char* library, const char* expr,
               const char* error_name, const char* description) {
  std::string what = std::string(short_path(file)) + ":" + std::to_string(line) + ": " + library +
                     " error " + error_name;
  if (description && *description) what += std::string(" (") + description + ")";
  what += std::string(" in ") + expr;
  throw Error(what);
}

const char* cublas_status_name(cublasStatus_t status) { return cublasGetStatusName(status); }

cudaStream_t stream() { return runtime().stream; }
cudnnHandle_t cudnn_handle() { return runtime().cudnn; }
cublasHandle_t cublas_handle() { return runtime().cublas; }
const cudaDeviceProp& device_properties() { return runtime().props; }
bool tf32_enabled() { return runtime().tf32; }
bool deterministic() { return deterministic_flag().load(); }
void set_deterministic(bool on) { deterministic_flag().store(on); }
size_t cudnn_workspace_limit() { return runtime().workspace_limit; }

bool stream_capturing() {
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  CUDA_CHECK(cudaStreamIsCapturing(stream(), &status));
  return status != cudaStreamCaptureStatusNone;
}

}  // namespace cuda

// ---- device discovery

namespace {
std::string& no_device_reason() {
  static std::string reason;
  return reason;
}
}  // namespace

bool cuda_built() { return true; }

bool cuda_available() {
  static const bool available = [] {
    int count = 0;
    const cudaError_t err = cudaGetDeviceCount(&count);
    if (err != cudaSuccess) {
      no_device_reason() = cudaGetErrorString(err);
      cudaGetLastError();
      return false;
    }
    return count > 0;
  }();
  return available;
}

Backend& cuda_backend() {
  static CudaBackend* const instance = [] {
    if (!cuda_available()) {
      const std::string& why = no_device_reason();
      fail("no CUDA device found", why.empty() ? "" : " (", why, why.empty() ? "" : ")");
    }
    return new CudaBackend();
  }();
  return *instance;
}

// ---- CudaBackend: construction and memory

CudaBackend::CudaBackend() { cuda::stream(); }  // starts the runtime, so errors show here

// Never runs for the process's backend (it is deliberately never deleted, see above).
CudaBackend::~CudaBackend() {}

Device CudaBackend::device() const { return Device::CUDA; }

void* CudaBackend::alloc(size_t bytes) { return cuda::device_alloc(bytes); }

void CudaBackend::free(void* ptr, size_t bytes) { cuda::device_free(ptr, bytes); }

namespace {

// Uploads without waiting: the caller's buffer is copied into a pinned staging slot at once and
// the slot is copied to the device asynchronously. A slot is reused when its copy's event has
// completed; the host waits (and counts a sync) only when the device is that many uploads behind.
class UploadStaging {
 public:
  void upload(void* dst, const void* src, size_t bytes) {
    Slot& slot = slots_[next_++ % kSlots];
    if (slot.done && cudaEventQuery(slot.done) == cudaErrorNotReady) {
      count_host_sync();
      CUDA_CHECK(cudaEventSynchronize(slot.done));
    }
    if (slot.bytes < bytes) {
      if (slot.host) CUDA_CHECK(cudaFreeHost(slot.host));
      slot.host = nullptr;
      slot.bytes = 0;
      CUDA_CHECK(cudaMallocHost(&slot.host, bytes));
      slot.bytes = bytes;
    }
    if (!slot.done) CUDA_CHECK(cudaEventCreateWithFlags(&slot.done, cudaEventDisableTiming));
    std::memcpy(slot.host, src, bytes);
    CUDA_CHECK(cudaMemcpyAsync(dst, slot.host, bytes, cudaMemcpyHostToDevice, cuda::stream()));
    CUDA_CHECK(cudaEventRecord(slot.done, cuda::stream()));
  }

 private:
  // A step uploads its input, target and mask, and a few small tensors (transforms, noise).
  static constexpr size_t kSlots = 16;
  struct Slot {
    void* host = nullptr;
    size_t bytes = 0;
    cudaEvent_t done = nullptr;
  };
  Slot slots_[kSlots];
  size_t next_ = 0;
};

}  // namespace

void CudaBackend::copy(void* dst, Device dst_dev, const void* src, Device src_dev, size_t bytes) {
  STEADY_ASSERT(dst_dev == Device::CUDA || src_dev == Device::CUDA);
  if (bytes == 0) return;
  // Large uploads (a whole image or video frame at load time) stay synchronous: a pinned slot
  // would keep that much page-locked memory for the rest of the process.
  constexpr size_t kMaxStagedBytes = size_t(64) << 20;
  if (src_dev == Device::CPU && bytes <= kMaxStagedBytes && !cuda::stream_capturing()) {
    static UploadStaging staging;  // used from the one thread that drives the stream
    staging.upload(dst, src, bytes);
    return;
  }
  cudaMemcpyKind kind = cudaMemcpyDeviceToDevice;
  if (src_dev == Device::CPU) kind = cudaMemcpyHostToDevice;
  if (dst_dev == Device::CPU) kind = cudaMemcpyDeviceToHost;
  CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, kind, cuda::stream()));
  // A host buffer may be read or freed as soon as we return: wait for copies that touch one.
  if (kind != cudaMemcpyDeviceToDevice) {
    count_host_sync();
    CUDA_CHECK(cudaStreamSynchronize(cuda::stream()));
  }
}

void CudaBackend::synchronize() {
  count_host_sync();
  CUDA_CHECK(cudaStreamSynchronize(cuda::stream()));
}

}  // namespace steady
