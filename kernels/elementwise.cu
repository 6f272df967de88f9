// Elementwise ops and the sum on CUDA, float32: fill, the unary activations (relu, leaky relu,
// sigmoid, tanh, exp, log) and their gradients, add/sub/mul/maximum (and maximum's gradient),
// the maximum over channels, the product with a per-pixel map broadcast over channels,
// x*scale+shift, dst += alpha*src, sum and the broadcast of a scalar. One thread per element in
// grid-stride loops.
// CPU twin: kernels/elementwise.cpp; the formulas are the same expressions, with products that
// feed an addition rounded on their own (__fmul_rn) so the compiler does not fuse them into an
// FMA the CPU does not do. sum is deterministic without atomics: each block adds a fixed chunk
// of 4096 elements in double with a fixed tree, then one block adds the chunk sums the same way.
// Tested by tests/gpu_ops (against the CPU on random inputs and several sizes, outputs poisoned
// with NaN first, guard bytes after every buffer, sum repeated for bitwise repeatability).
#include <string>

#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/launch.cuh"
#include "engine/cuda/reduce.cuh"
#include "engine/cuda/runtime.h"
#include "kernels/elementwise_math.h"

namespace steady {

namespace {

constexpr int kThreads = cuda::kFlatThreads;
constexpr int64_t kSumChunk = 4096;  // elements per block of the first sum pass

__global__ void fill_kernel(float* p, float v, int64_t n) {
  STEADY_GRID_STRIDE_LOOP(i, n) p[i] = v;
}

__global__ void unary_kernel(UnaryOp op, const float* x, float* y, float slope, int64_t n) {
  STEADY_GRID_STRIDE_LOOP(i, n) y[i] = unary::apply(op, x[i], slope);
}

// operand is x when use_x, else y (see CudaBackend::unary_backward).
__global__ void unary_backward_kernel(UnaryOp op, const float* operand, bool use_x,
                                      const float* gy, float* gx, float slope, int64_t n) {
  STEADY_GRID_STRIDE_LOOP(i, n) gx[i] = gy[i] * unary::derivative(op, operand[i], slope, use_x);
}

__global__ void binary_kernel(BinaryOp op, const float* a, const float* b, float* out,
                              int64_t n) {
  STEADY_GRID_STRIDE_LOOP(i, n) out[i] = binary::apply(op, a[i], b[i]);
}

__global__ void maximum_backward_kernel(const float* a, const float* b, const float* gy,
                                        float* ga, float* gb, int64_t n) {
  STEADY_GRID_STRIDE_LOOP(i, n) {
    ga[i] = gy[i] * binary::maximum_grad_share(a[i], b[i]);
    gb[i] = gy[i] * binary::maximum_grad_share(b[i], a[i]);
  }
}

// One thread per pixel of one sample: the channels in order, as the CPU twin.
__global__ void max_channels_kernel(const float* x, float* out, int64_t n, int64_t c,
                                    int64_t plane) {
  STEADY_GRID_STRIDE_LOOP(i, n * plane) {
    const int64_t s = i / plane, p = i - s * plane;
    const float* in = x + s * c * plane + p;
    float m = in[0];
    for (int64_t ch = 1; ch < c; ++ch) m = binary::apply(BinaryOp::Max, m, in[ch * plane]);
    out[i] = m;
  }
}

__global__ void mul_channels_kernel(const float* x, const float* m, float* out, int64_t total,
                                    int64_t c, int64_t plane) {
  STEADY_GRID_STRIDE_LOOP(i, total) {
    const int64_t p = i % plane, s = i / (c * plane);
    out[i] = x[i] * m[s * plane + p];
  }
}

__global__ void scale_shift_kernel(const float* x, float* out, float scale, float shift,
                                   int64_t n) {
  STEADY_GRID_STRIDE_LOOP(i, n) out[i] = __fadd_rn(__fmul_rn(x[i], scale), shift);
}

__global__ void accumulate_kernel(float* dst, const float* src, float alpha, bool unit_alpha,
                                  int64_t n) {
  STEADY_GRID_STRIDE_LOOP(i, n) {
    dst[i] = unit_alpha ? dst[i] + src[i] : __fadd_rn(dst[i], __fmul_rn(alpha, src[i]));
  }
}

// One block: out[0] = sum of partial[0, chunks).
__global__ void sum_partials_kernel(const double* partial, int64_t chunks, float* out) {
  __shared__ double shared[kThreads];
  const double total = cuda::block_sum_range<kThreads>(partial, 0, chunks, shared);
  if (threadIdx.x == 0) out[0] = static_cast<float>(total);
}

__global__ void broadcast_scalar_kernel(const float* s, double scale, float* out, int64_t n) {
  const float v = static_cast<float>(static_cast<double>(s[0]) * scale);
  STEADY_GRID_STRIDE_LOOP(i, n) out[i] = v;
}

}  // namespace

void CudaBackend::fill_impl(Tensor& t, double value) {
  const int64_t n = t.numel();
  if (n > 0) STEADY_LAUNCH_FLAT(fill_kernel, n, t.data<float>(), static_cast<float>(value), n);
}

void CudaBackend::unary_impl(UnaryOp op, const Tensor& x, float slope, Tensor& y) {
  const int64_t n = x.numel();
  STEADY_LAUNCH_FLAT(unary_kernel, n, op, x.data<float>(), y.data<float>(), slope, n);
}

void CudaBackend::unary_backward_impl(UnaryOp op, const Tensor& operand, bool use_x,
                                      const Tensor& gy, float slope, Tensor& gx) {
  const int64_t n = gy.numel();
  STEADY_LAUNCH_FLAT(unary_backward_kernel, n, op, operand.data<float>(), use_x, gy.data<float>(),
                     gx.data<float>(), slope, n);
}

void CudaBackend::binary_impl(BinaryOp op, const Tensor& a, const Tensor& b, Tensor& out) {
  const int64_t n = a.numel();
  STEADY_LAUNCH_FLAT(binary_kernel, n, op, a.data<float>(), b.data<float>(), out.data<float>(), n);
}

void CudaBackend::maximum_backward_impl(const Tensor& a, const Tensor& b, const Tensor& gy,
                                        Tensor& ga, Tensor& gb) {
  const int64_t n = a.numel();
  STEADY_LAUNCH_FLAT(maximum_backward_kernel, n, a.data<float>(), b.data<float>(),
                     gy.data<float>(), ga.data<float>(), gb.data<float>(), n);
}

void CudaBackend::max_channels_impl(const Tensor& x, Tensor& out) {
  const ChannelLayout l = channel_layout(x);
  STEADY_LAUNCH_FLAT(max_channels_kernel, l.n * l.plane, x.data<float>(), out.data<float>(), l.n,
                     l.c, l.plane);
}

void CudaBackend::mul_channels_impl(const Tensor& x, const Tensor& m, Tensor& out) {
  const ChannelLayout l = channel_layout(x);
  const int64_t total = x.numel();
  STEADY_LAUNCH_FLAT(mul_channels_kernel, total, x.data<float>(), m.data<float>(),
                     out.data<float>(), total, l.c, l.plane);
}

void CudaBackend::scale_shift_impl(const Tensor& x, double scale, double shift, Tensor& out) {
  const int64_t n = x.numel();
  STEADY_LAUNCH_FLAT(scale_shift_kernel, n, x.data<float>(), out.data<float>(),
                     static_cast<float>(scale), static_cast<float>(shift), n);
}

void CudaBackend::accumulate_impl(Tensor& dst, const Tensor& src, double alpha) {
  const int64_t n = dst.numel();
  STEADY_LAUNCH_FLAT(accumulate_kernel, n, dst.data<float>(), src.data<float>(),
                     static_cast<float>(alpha), alpha == 1.0, n);
}

void CudaBackend::sum_impl(const Tensor& x, Tensor& out) {
  const int64_t n = x.numel();
  if (n == 0) {
    fill_impl(out, 0.0);
    return;
  }
  const int64_t chunks = (n + kSumChunk - 1) / kSumChunk;
  STEADY_CHECK(chunks <= 0x7fffffff, "sum: ", x.str(), " is too large");
  // Scratch for the chunk sums: `chunks` doubles, held as twice as many floats.
  Tensor scratch = Tensor::empty({2 * chunks}, Device::CUDA);
  double* partial = static_cast<double*>(scratch.raw());
  cuda::sum_chunks_kernel<kThreads, kSumChunk><<<static_cast<unsigned int>(chunks), kThreads, 0, cuda::stream()>>>(
      x.data<float>(), n, partial);
  CUDA_CHECK_LAUNCH("sum_chunks_kernel");
  sum_partials_kernel<<<1, kThreads, 0, cuda::stream()>>>(partial, chunks, out.data<float>());
  CUDA_CHECK_LAUNCH("sum_partials_kernel");
}

void CudaBackend::broadcast_scalar_impl(const Tensor& s, double scale, Tensor& out) {
  const int64_t n = out.numel();
  STEADY_LAUNCH_FLAT(broadcast_scalar_kernel, n, s.data<float>(), scale, out.data<float>(), n);
}

}  // namespace steady
