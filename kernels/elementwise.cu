// Elementwise ops and the sum on CUDA, float32: fill, the unary activations (relu, leaky relu,
// sigmoid, tanh, exp, log) and their gradients, add/sub/mul, x*scale+shift, dst += alpha*src,
// sum and the broadcast of a scalar. One thread per element in grid-stride loops.
// CPU twin: kernels/elementwise.cpp; the formulas are the same expressions, with products that
// feed an addition rounded on their own (__fmul_rn) so the compiler does not fuse them into an
// FMA the CPU does not do. sum is deterministic without atomics: each block adds a fixed chunk
// of 4096 elements in double with a fixed tree, then one block adds the chunk sums the same way.
// Tested by tests/gpu_ops (against the CPU on random inputs and several sizes, outputs poisoned
// with NaN first, guard bytes after every buffer, sum repeated for bitwise repeatability).
#include <string>

#include "engine/cuda/checks.h"
#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/reduce.cuh"
#include "engine/cuda/runtime.h"

namespace steady {

namespace {

constexpr int kThreads = 256;
constexpr int64_t kSumChunk = 4096;  // elements per block of the first sum pass

const char* unary_name(UnaryOp op) {
  switch (op) {
    case UnaryOp::Relu: return "relu";
    case UnaryOp::LeakyRelu: return "leaky_relu";
    case UnaryOp::Sigmoid: return "sigmoid";
    case UnaryOp::Tanh: return "tanh";
    case UnaryOp::Exp: return "exp";
    case UnaryOp::Log: return "log";
  }
  return "unary";
}

#define GRID_STRIDE_LOOP(i, n)                                                    \
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < (n); \
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)

__device__ float sigmoid_of(float x) {
  // Two branches so that exp never overflows for large |x| (as the CPU twin).
  if (x >= 0.f) return 1.f / (1.f + expf(-x));
  const float e = expf(x);
  return e / (1.f + e);
}

__device__ float apply_unary(UnaryOp op, float x, float slope) {
  switch (op) {
    case UnaryOp::Relu: return x > 0.f ? x : 0.f;
    case UnaryOp::LeakyRelu: return x > 0.f ? x : slope * x;
    case UnaryOp::Sigmoid: return sigmoid_of(x);
    case UnaryOp::Tanh: return tanhf(x);
    case UnaryOp::Exp: return expf(x);
    case UnaryOp::Log: return logf(x);
  }
  return x;
}

__global__ void fill_kernel(float* p, float v, int64_t n) {
  GRID_STRIDE_LOOP(i, n) p[i] = v;
}

__global__ void unary_kernel(UnaryOp op, const float* x, float* y, float slope, int64_t n) {
  GRID_STRIDE_LOOP(i, n) y[i] = apply_unary(op, x[i], slope);
}

// operand is x when use_x, else y (see CudaBackend::unary_backward).
__global__ void unary_backward_kernel(UnaryOp op, const float* operand, bool use_x,
                                      const float* gy, float* gx, float slope, int64_t n) {
  GRID_STRIDE_LOOP(i, n) {
    const float v = operand[i];
    float d = 0.f;
    switch (op) {
      case UnaryOp::Relu:
        d = v > 0.f ? 1.f : 0.f;
        break;
      case UnaryOp::LeakyRelu:
        d = v > 0.f ? 1.f : slope;
        break;
      case UnaryOp::Sigmoid: {
        const float yi = use_x ? sigmoid_of(v) : v;
        d = yi * (1.f - yi);
        break;
      }
      case UnaryOp::Tanh: {
        const float yi = use_x ? tanhf(v) : v;
        d = 1.f - __fmul_rn(yi, yi);
        break;
      }
      case UnaryOp::Exp:
        d = use_x ? expf(v) : v;
        break;
      case UnaryOp::Log: {
        const float xi = use_x ? v : expf(v);
        d = 1.f / xi;
        break;
      }
    }
    gx[i] = gy[i] * d;
  }
}

__global__ void binary_kernel(BinaryOp op, const float* a, const float* b, float* out,
                              int64_t n) {
  GRID_STRIDE_LOOP(i, n) {
    switch (op) {
      case BinaryOp::Add: out[i] = a[i] + b[i]; break;
      case BinaryOp::Sub: out[i] = a[i] - b[i]; break;
      case BinaryOp::Mul: out[i] = a[i] * b[i]; break;
    }
  }
}

__global__ void scale_shift_kernel(const float* x, float* out, float scale, float shift,
                                   int64_t n) {
  GRID_STRIDE_LOOP(i, n) out[i] = __fadd_rn(__fmul_rn(x[i], scale), shift);
}

__global__ void accumulate_kernel(float* dst, const float* src, float alpha, bool unit_alpha,
                                  int64_t n) {
  GRID_STRIDE_LOOP(i, n) {
    dst[i] = unit_alpha ? dst[i] + src[i] : __fadd_rn(dst[i], __fmul_rn(alpha, src[i]));
  }
}

// Block b sums x[b*kSumChunk, (b+1)*kSumChunk) into partial[b].
__global__ void sum_chunks_kernel(const float* x, int64_t n, double* partial) {
  __shared__ double shared[kThreads];
  const int64_t begin = blockIdx.x * kSumChunk;
  const int64_t end = begin + kSumChunk < n ? begin + kSumChunk : n;
  double acc = 0.0;
  for (int64_t i = begin + threadIdx.x; i < end; i += kThreads) acc += static_cast<double>(x[i]);
  const double total = cuda::block_sum<kThreads>(acc, shared);
  if (threadIdx.x == 0) partial[blockIdx.x] = total;
}

// One block: out[0] = sum of partial[0, chunks).
__global__ void sum_partials_kernel(const double* partial, int64_t chunks, float* out) {
  __shared__ double shared[kThreads];
  double acc = 0.0;
  for (int64_t i = threadIdx.x; i < chunks; i += kThreads) acc += partial[i];
  const double total = cuda::block_sum<kThreads>(acc, shared);
  if (threadIdx.x == 0) out[0] = static_cast<float>(total);
}

__global__ void broadcast_scalar_kernel(const float* s, double scale, float* out, int64_t n) {
  const float v = static_cast<float>(static_cast<double>(s[0]) * scale);
  GRID_STRIDE_LOOP(i, n) out[i] = v;
}

void launch_fill(float* p, float v, int64_t n) {
  if (n == 0) return;
  fill_kernel<<<cuda::grid_for(n, kThreads), kThreads, 0, cuda::stream()>>>(p, v, n);
  CUDA_CHECK_LAUNCH("fill_kernel");
}

}  // namespace

void CudaBackend::fill(Tensor& t, double value) {
  cuda::check_cuda_f32("fill", t, "tensor");
  launch_fill(t.data<float>(), static_cast<float>(value), t.numel());
}

Tensor CudaBackend::unary(UnaryOp op, const Tensor& x, float slope) {
  cuda::check_cuda_f32(unary_name(op), x, "x");
  Tensor y = Tensor::empty(x.shape(), Device::CUDA);
  const int64_t n = x.numel();
  if (n == 0) return y;
  unary_kernel<<<cuda::grid_for(n, kThreads), kThreads, 0, cuda::stream()>>>(
      op, x.data<float>(), y.data<float>(), slope, n);
  CUDA_CHECK_LAUNCH("unary_kernel");
  return y;
}

// As the CPU twin: relu, leaky relu and log differentiate through x; sigmoid, tanh and exp
// through y; when that one is undefined the other is used.
Tensor CudaBackend::unary_backward(UnaryOp op, const Tensor& x, const Tensor& y, const Tensor& gy,
                                   float slope) {
  const std::string name = std::string(unary_name(op)) + "_backward";
  const char* opname = name.c_str();
  cuda::check_cuda_f32(opname, gy, "gy");
  STEADY_CHECK(x.defined() || y.defined(), opname, ": needs the input x or the output y, got ",
               "neither");
  const bool from_x = op == UnaryOp::Relu || op == UnaryOp::LeakyRelu || op == UnaryOp::Log;
  const bool use_x = x.defined() && (from_x || !y.defined());
  const Tensor& operand = use_x ? x : y;
  cuda::check_cuda_f32(opname, operand, use_x ? "x" : "y");
  STEADY_CHECK(use_x || op != UnaryOp::LeakyRelu || slope >= 0.f, opname,
               ": with a negative slope the gradient needs x, got only y");
  STEADY_CHECK(operand.shape() == gy.shape(), opname, ": ", use_x ? "x " : "y ", operand.str(),
               " does not match gy ", gy.str());
  Tensor gx = Tensor::empty(gy.shape(), Device::CUDA);
  const int64_t n = gy.numel();
  if (n == 0) return gx;
  unary_backward_kernel<<<cuda::grid_for(n, kThreads), kThreads, 0, cuda::stream()>>>(
      op, operand.data<float>(), use_x, gy.data<float>(), gx.data<float>(), slope, n);
  CUDA_CHECK_LAUNCH("unary_backward_kernel");
  return gx;
}

Tensor CudaBackend::binary(BinaryOp op, const Tensor& a, const Tensor& b) {
  const char* name = op == BinaryOp::Add ? "add" : op == BinaryOp::Sub ? "sub" : "mul";
  cuda::check_cuda_f32(name, a, "a");
  cuda::check_cuda_f32(name, b, "b");
  check_same_shape(name, a, b);
  Tensor out = Tensor::empty(a.shape(), Device::CUDA);
  const int64_t n = a.numel();
  if (n == 0) return out;
  binary_kernel<<<cuda::grid_for(n, kThreads), kThreads, 0, cuda::stream()>>>(
      op, a.data<float>(), b.data<float>(), out.data<float>(), n);
  CUDA_CHECK_LAUNCH("binary_kernel");
  return out;
}

Tensor CudaBackend::scale_shift(const Tensor& x, double scale, double shift) {
  cuda::check_cuda_f32("scale_shift", x, "x");
  Tensor out = Tensor::empty(x.shape(), Device::CUDA);
  const int64_t n = x.numel();
  if (n == 0) return out;
  scale_shift_kernel<<<cuda::grid_for(n, kThreads), kThreads, 0, cuda::stream()>>>(
      x.data<float>(), out.data<float>(), static_cast<float>(scale), static_cast<float>(shift), n);
  CUDA_CHECK_LAUNCH("scale_shift_kernel");
  return out;
}

void CudaBackend::accumulate(Tensor& dst, const Tensor& src, double alpha) {
  cuda::check_cuda_f32("accumulate", dst, "dst");
  cuda::check_cuda_f32("accumulate", src, "src");
  check_same_shape("accumulate", dst, src);
  const int64_t n = dst.numel();
  if (n == 0) return;
  accumulate_kernel<<<cuda::grid_for(n, kThreads), kThreads, 0, cuda::stream()>>>(
      dst.data<float>(), src.data<float>(), static_cast<float>(alpha), alpha == 1.0, n);
  CUDA_CHECK_LAUNCH("accumulate_kernel");
}

Tensor CudaBackend::sum(const Tensor& x) {
  cuda::check_cuda_f32("sum", x, "x");
  Tensor out = Tensor::empty({1}, Device::CUDA);
  const int64_t n = x.numel();
  if (n == 0) {
    launch_fill(out.data<float>(), 0.f, 1);
    return out;
  }
  const int64_t chunks = (n + kSumChunk - 1) / kSumChunk;
  STEADY_CHECK(chunks <= 0x7fffffff, "sum: ", x.str(), " is too large");
  // Scratch for the chunk sums: `chunks` doubles, held as twice as many floats.
  Tensor scratch = Tensor::empty({2 * chunks}, Device::CUDA);
  double* partial = static_cast<double*>(scratch.raw());
  sum_chunks_kernel<<<static_cast<unsigned int>(chunks), kThreads, 0, cuda::stream()>>>(
      x.data<float>(), n, partial);
  CUDA_CHECK_LAUNCH("sum_chunks_kernel");
  sum_partials_kernel<<<1, kThreads, 0, cuda::stream()>>>(partial, chunks, out.data<float>());
  CUDA_CHECK_LAUNCH("sum_partials_kernel");
  return out;
}

Tensor CudaBackend::broadcast_scalar(const Tensor& s, const Shape& shape, double scale) {
  cuda::check_cuda_f32("broadcast_scalar", s, "s");
  STEADY_CHECK(s.numel() == 1, "broadcast_scalar: s must have one element, got ", s.str());
  Tensor out = Tensor::empty(shape, Device::CUDA);
  const int64_t n = out.numel();
  if (n == 0) return out;
  broadcast_scalar_kernel<<<cuda::grid_for(n, kThreads), kThreads, 0, cuda::stream()>>>(
      s.data<float>(), scale, out.data<float>(), n);
  CUDA_CHECK_LAUNCH("broadcast_scalar_kernel");
  return out;
}

}  // namespace steady
