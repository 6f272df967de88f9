// engine/cuda/runtime.* and allocator.*: device discovery, the stream and handles, the error
// checks (file:line and expression in the message), the caching allocator (reuse, counters,
// out-of-memory message, guard bytes that catch an overrun).
#include <string>

#include "engine/cuda/allocator.h"
#include "engine/cuda/runtime.h"
#include "engine/memory_bucket.h"
#include "gpu_check.h"

using namespace steady;
using namespace gpu_check;

TEST_CASE("gpu runtime: device selection") {
  CHECK(cuda_built());
  CHECK(cuda_available());
  CHECK(gpu().device() == Device::CUDA);
  CHECK(parse_device("cuda") == Device::CUDA);
  CHECK(parse_device("auto") == Device::CUDA);
  CHECK(parse_device("cpu") == Device::CPU);
}

TEST_CASE("gpu runtime: one non-default stream, the library handles bound to it") {
  gpu();
  cudaStream_t s = cuda::stream();
  REQUIRE(s != nullptr);
  unsigned int flags = 0;
  CUDA_CHECK(cudaStreamGetFlags(s, &flags));
  CHECK(flags == cudaStreamNonBlocking);
  cudaStream_t bound = nullptr;
  CUDNN_CHECK(cudnnGetStream(cuda::cudnn_handle(), &bound));
  CHECK(bound == s);
  CUBLAS_CHECK(cublasGetStream(cuda::cublas_handle(), &bound));
  CHECK(bound == s);
  cublasMath_t mode = CUBLAS_DEFAULT_MATH;
  CUBLAS_CHECK(cublasGetMathMode(cuda::cublas_handle(), &mode));
  CHECK(mode == (cuda::tf32_enabled() ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
}

TEST_CASE("gpu runtime: CUDA_CHECK, CUDNN_CHECK, CUBLAS_CHECK and the launch check throw") {
  gpu();
  auto bad_device = [] { CUDA_CHECK(cudaSetDevice(-1)); };
  CHECK_THROWS_WITH_AS(bad_device(), doctest::Contains("tests/gpu_ops/runtime.cpp:"), Error);
  CHECK_THROWS_WITH_AS(bad_device(), doctest::Contains("cudaErrorInvalidDevice"), Error);
  CHECK_THROWS_WITH_AS(bad_device(), doctest::Contains("in cudaSetDevice(-1)"), Error);
  cudaGetLastError();

  cudnnTensorDescriptor_t desc = nullptr;
  CUDNN_CHECK(cudnnCreateTensorDescriptor(&desc));
  auto bad_descriptor = [&] {
    CUDNN_CHECK(cudnnSetTensor4dDescriptor(desc, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, -1, 1, 1, 1));
  };
  CHECK_THROWS_WITH_AS(bad_descriptor(), doctest::Contains("cuDNN error CUDNN_STATUS_BAD_PARAM"),
                       Error);
  CUDNN_CHECK(cudnnDestroyTensorDescriptor(desc));

  const float one = 1.f;
  auto bad_gemm = [&] {
    CUBLAS_CHECK(cublasSgemm(cuda::cublas_handle(), CUBLAS_OP_N, CUBLAS_OP_N, -1, 1, 1, &one,
                             nullptr, 1, nullptr, 1, &one, nullptr, 1));
  };
  CHECK_THROWS_WITH_AS(bad_gemm(), doctest::Contains("cuBLAS error CUBLAS_STATUS_INVALID_VALUE"),
                       Error);

  // A failed runtime call is the "last error" the launch check reads after a kernel launch.
  CHECK(cudaSetDevice(-1) != cudaSuccess);
  auto launch_check = [] { CUDA_CHECK_LAUNCH("some_kernel"); };
  CHECK_THROWS_WITH_AS(launch_check(), doctest::Contains("launch of some_kernel"), Error);
  CHECK(cudaGetLastError() == cudaSuccess);  // the check consumed it
  gpu().synchronize();                        // and the device is fine
}

TEST_CASE("gpu allocator: buckets, reuse without the driver, counters") {
  CHECK(bucket_size(1) == 512);
  CHECK(bucket_size(512) == 512);
  CHECK(bucket_size(513) == 1024);
  CHECK(bucket_size(size_t(1) << 20) == size_t(1) << 20);
  for (size_t b : {size_t(1) << 20 | 1, size_t(3) << 20, size_t(1000000007), size_t(1) << 33}) {
    const size_t s = bucket_size(b);
    CHECK(s >= b);
    CHECK(s <= b + b / 8);
  }

  gpu();
  cuda::set_guard_checks(false);
  void* first = nullptr;
  {
    Tensor t = Tensor::empty({123457}, Device::CUDA);
    first = t.raw();
  }
  const cuda::AllocatorStats before = cuda::allocator_stats();
  {
    Tensor t = Tensor::empty({123457}, Device::CUDA);
    CHECK(t.raw() == first);  // the freed block comes back
    const cuda::AllocatorStats during = cuda::allocator_stats();
    CHECK(during.bytes_in_use == before.bytes_in_use + bucket_size(123457 * 4));
    CHECK(during.peak_bytes >= during.bytes_in_use);
  }
  const cuda::AllocatorStats after = cuda::allocator_stats();
  CHECK(after.driver_allocations == before.driver_allocations);
  CHECK(after.allocations == before.allocations + 1);
  CHECK(after.bytes_in_use == before.bytes_in_use);
}

TEST_CASE("gpu allocator: out of memory is one clear error, and the allocator still works") {
  gpu();
  cuda::set_guard_checks(false);
  const int64_t huge = int64_t(1) << 48;  // 1 PiB of floats
  CHECK_THROWS_WITH_AS(Tensor::empty({huge}, Device::CUDA),
                       doctest::Contains("CUDA out of memory allocating 1125899906842624 bytes"),
                       Error);
  CHECK(cudaGetLastError() == cudaSuccess);
  Tensor small = Tensor::full({1000}, 2.0, Device::CUDA);
  CHECK(gpu().sum(small).item() == 2000.0);
}

TEST_CASE("gpu allocator: guard bytes catch a write past the end of a block") {
  gpu();
  cuda::set_guard_checks(true);
  const int64_t before = cuda::allocator_stats().guard_violations;
  {
    Tensor t = Tensor::empty({100}, Device::CUDA);
    gpu().fill(t, 1.0);
    // One float past the end: inside the guard bytes.
    CUDA_CHECK(cudaMemsetAsync(static_cast<char*>(t.raw()) + 400, 0, 4, cuda::stream()));
  }
  CHECK(cuda::allocator_stats().guard_violations == before + 1);
  CHECK(cuda::first_guard_violation().find("past the end") != std::string::npos);
  {
    Tensor t = Tensor::empty({100}, Device::CUDA);
    gpu().fill(t, 1.0);  // in bounds
  }
  CHECK(cuda::allocator_stats().guard_violations == before + 1);
}
