// The CUDA runtime of the process: one device, one explicit non-default stream on which every
// kernel, copy and library call runs, a cuDNN and a cuBLAS handle bound to that stream, and the
// math switches (TF32, deterministic algorithms). Also the checks that turn every failing CUDA,
// cuDNN or cuBLAS call, and every failed kernel launch, into a steady::Error that names the
// file, the line and the call.
//
// Switches, read once from the environment when the runtime starts:
//   STEADY_TF32=1           allow TF32 tensor-core math in cuDNN and cuBLAS (off by default, so
//                           float32 results match the CPU to float32 rounding)
//   STEADY_DETERMINISTIC=1  pick only deterministic cuDNN algorithms (also set_deterministic())
//   STEADY_CUDNN_WORKSPACE_MB=N  the largest cuDNN workspace an algorithm may ask for (1024)
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <cstddef>
#include <cstdint>

#include "engine/error.h"

namespace steady {
namespace cuda {

// Throws steady::Error "file:line: <library> error <name>: <description> in <expression>".
[[noreturn]] void fail_call(const char* file, int line, const char* library, const char* expr,
                            const char* error_name, const char* description);
const char* cublas_status_name(cublasStatus_t status);

// The process's stream and library handles; the first call starts the runtime (device 0).
cudaStream_t stream();
cudnnHandle_t cudnn_handle();
cublasHandle_t cublas_handle();
const cudaDeviceProp& device_properties();

bool tf32_enabled();
bool deterministic();
void set_deterministic(bool on);  // overrides STEADY_DETERMINISTIC for later algorithm choices
size_t cudnn_workspace_limit();   // bytes

// True while the stream is being captured into a CUDA graph (engine/cuda/graph.h).
bool stream_capturing();

// Grid size for a grid-stride loop over n elements with `threads` threads per block. The cap
// keeps the grid legal for any n; the kernels' loops cover the rest.
inline unsigned int grid_for(int64_t n, int threads) {
  const int64_t blocks = (n + threads - 1) / threads;
  const int64_t cap = int64_t(1) << 20;
  return static_cast<unsigned int>(blocks < 1 ? 1 : (blocks > cap ? cap : blocks));
}

}  // namespace cuda
}  // namespace steady

#define CUDA_CHECK(expr)                                                                  \
  do {                                                                                    \
    const cudaError_t steady_cuda_err_ = (expr);                                          \
    if (steady_cuda_err_ != cudaSuccess) {                                                \
      ::steady::cuda::fail_call(__FILE__, __LINE__, "CUDA", #expr,                        \
                                cudaGetErrorName(steady_cuda_err_),                       \
                                cudaGetErrorString(steady_cuda_err_));                    \
    }                                                                                     \
  } while (0)

// A library call whose status type is `Status` and success value `ok`; `describe` names a
// failing status.
#define STEADY_LIBRARY_CHECK(library, Status, ok, describe, expr)                         \
  do {                                                                                    \
    const Status steady_status_ = (expr);                                                 \
    if (steady_status_ != ok) {                                                           \
      ::steady::cuda::fail_call(__FILE__, __LINE__, library, #expr, describe(steady_status_), ""); \
    }                                                                                     \
  } while (0)
#define CUDNN_CHECK(expr) \
  STEADY_LIBRARY_CHECK("cuDNN", cudnnStatus_t, CUDNN_STATUS_SUCCESS, cudnnGetErrorString, expr)
#define CUBLAS_CHECK(expr)                                            \
  STEADY_LIBRARY_CHECK("cuBLAS", cublasStatus_t, CUBLAS_STATUS_SUCCESS, \
                       ::steady::cuda::cublas_status_name, expr)

// After every kernel launch: a bad configuration or an earlier asynchronous fault shows here,
// named after the kernel, instead of at some later unrelated call.
#define CUDA_CHECK_LAUNCH(kernel_name)                                                    \
  do {                                                                                    \
    const cudaError_t steady_launch_err_ = cudaGetLastError();                            \
    if (steady_launch_err_ != cudaSuccess) {                                              \
      ::steady::cuda::fail_call(__FILE__, __LINE__, "CUDA", "launch of " kernel_name,     \
                                cudaGetErrorName(steady_launch_err_),                     \
                                cudaGetErrorString(steady_launch_err_));                  \
    }                                                                                     \
  } while (0)
