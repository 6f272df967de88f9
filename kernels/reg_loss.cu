// The fused regularization losses on CUDA, float32: the masked squared difference d of the
// mode, its deterministic reduction and both gradients, with the warp computed inside the loss
// kernel (no T(fx) or T(y) tensor) and, for trans-inv, the warp's exact adjoint as a gather.
// Same formulas as the CPU twin (kernels/reg_loss.cpp):
//   loss = sum(mask d^2) / max(1, C sum(mask)),   g = 2 mask d / max(1, C sum(mask))
//   Stability: d = fx - ftx                 grad_fx = g,        grad_ftx = -g
//   TransInv:  d = ftx - T(fx)              grad_fx = -T^T g,   grad_ftx = g
//   Jacobian:  d = (ftx - T(y)) - (fx - y)  grad_fx = -g,       grad_ftx = g
//   Augment:   d = ftx - T(y)               grad_fx = 0,        grad_ftx = g
// Kernels: (1) with a mask, its sum in fixed chunks and a one-block fixed-tree total, giving the
// denominator on the device; (2) one pass over the pixels, a fixed chunk per block, writing both
// gradients and a per-block partial of the loss; (3) one block adds the partials in a fixed
// tree; (4) trans-inv only: grad_fx = -T^T grad_ftx, the gather of kernels/warp.cu. No atomics:
// the same inputs give the same bits on every run. Tested against the CPU twin in
// tests/gpu_warp.cpp.
#include <algorithm>

#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/reduce.cuh"
#include "engine/cuda/runtime.h"
#include "kernels/warp.cuh"
#include "kernels/warp_math.h"

namespace steady {

namespace {

constexpr int kThreads = 256;
constexpr int64_t kPixelChunk = 512;   // pixels per block of the loss pass
constexpr int64_t kMaskChunk = 4096;   // mask values per block of the mask sum


// denom[0] = max(1, channels * sum of partial[0, chunks)).
__global__ void mask_denominator_kernel(const double* partial, int64_t chunks, double channels,
                                        double* denom) {
  __shared__ double shared[kThreads];
  const double total = cuda::block_sum_range<kThreads>(partial, 0, chunks, shared);
  if (threadIdx.x == 0) {
    const double d = channels * total;
    denom[0] = d > 1.0 ? d : 1.0;
  }
}

struct RegArgs {
  int kind;  // RegKind as int
  const float* fx;
  const float* ftx;
  const float* y;     // Jacobian, Augment
  const float* mats;  // all but Stability
  const float* mask;  // [n,1,h,w] or null
  const double* denom_dev;  // null: denom_host
  double denom_host;
  float* grad_fx;
  float* grad_ftx;
  int64_t n, c, h, w;
};

__global__ void reg_loss_kernel(RegArgs a, double* partial) {
  __shared__ double shared[kThreads];
  const int64_t hw = a.h * a.w, pixels = a.n * hw;
  const double denom = a.denom_dev ? a.denom_dev[0] : a.denom_host;
  const int64_t begin = blockIdx.x * kPixelChunk;
  const int64_t end = begin + kPixelChunk < pixels ? begin + kPixelChunk : pixels;
  const int kind = a.kind;
  const bool warps = kind != static_cast<int>(RegKind::Stability);
  double acc = 0.0;
  for (int64_t idx = begin + threadIdx.x; idx < end; idx += kThreads) {
    const int64_t s = idx / hw, pix = idx - s * hw;
    const int64_t yy = pix / a.w, xx = pix - yy * a.w;
    const double m = a.mask ? static_cast<double>(a.mask[idx]) : 1.0;
    warp::Taps t{};
    if (warps) {
      double sx, sy;
      warp::sample_point(a.mats + 6 * s, xx, yy, sx, sy);
      t = warp::taps(sx, sy, a.h, a.w);
    }
    for (int64_t ch = 0; ch < a.c; ++ch) {
      const int64_t plane = (s * a.c + ch) * hw, k = plane + pix;
      double d;
      if (kind == static_cast<int>(RegKind::Stability)) {
        d = static_cast<double>(a.fx[k]) - static_cast<double>(a.ftx[k]);
      } else if (kind == static_cast<int>(RegKind::TransInv)) {
        // T(fx) rounded to float as the CPU twin's warped tensor is.
        const float tf = static_cast<float>(warp::bilinear(a.fx + plane, t, a.h, a.w));
        d = static_cast<double>(a.ftx[k]) - static_cast<double>(tf);
      } else {
        const float ty = static_cast<float>(warp::bilinear(a.y + plane, t, a.h, a.w));
        d = static_cast<double>(a.ftx[k]) - static_cast<double>(ty);
        if (kind == static_cast<int>(RegKind::Jacobian))
          d = d - (static_cast<double>(a.fx[k]) - static_cast<double>(a.y[k]));
      }
      acc += m * d * d;
      const double g = 2.0 * m * d / denom;
      if (kind == static_cast<int>(RegKind::Stability)) {
        a.grad_fx[k] = static_cast<float>(g);
        a.grad_ftx[k] = static_cast<float>(-g);
      } else if (kind == static_cast<int>(RegKind::TransInv)) {
        a.grad_ftx[k] = static_cast<float>(g);  // grad_fx: the adjoint pass
      } else if (kind == static_cast<int>(RegKind::Jacobian)) {
        a.grad_fx[k] = static_cast<float>(-g);
        a.grad_ftx[k] = static_cast<float>(g);
      } else {
        a.grad_fx[k] = 0.f;
        a.grad_ftx[k] = static_cast<float>(g);
      }
    }
  }
  const double total = cuda::block_sum<kThreads>(acc, shared);
  if (threadIdx.x == 0) partial[blockIdx.x] = total;
}

__global__ void reg_loss_total_kernel(const double* partial, int64_t chunks,
                                      const double* denom_dev, double denom_host, float* loss) {
  __shared__ double shared[kThreads];
  const double total = cuda::block_sum_range<kThreads>(partial, 0, chunks, shared);
  if (threadIdx.x == 0) loss[0] = static_cast<float>(total / (denom_dev ? denom_dev[0] : denom_host));
}

}  // namespace

void CudaBackend::reg_loss_impl(RegKind kind, const Tensor& fx, const Tensor& ftx,
                                const Tensor& y, const Tensor& matrix, const Tensor& mask,
                                RegLoss& out) {
  const char* op = "reg_loss";
  const bool needs_y = kind == RegKind::Jacobian || kind == RegKind::Augment;
  const bool needs_warp = kind != RegKind::Stability;
  const int64_t n = fx.size(0), c = fx.size(1), h = fx.size(2), w = fx.size(3);
  const int64_t pixels = n * h * w;
  const int64_t chunks = pixels > 0 ? (pixels + kPixelChunk - 1) / kPixelChunk : 1;
  const int64_t mask_chunks = mask.defined() && pixels > 0 ? (pixels + kMaskChunk - 1) / kMaskChunk : 0;
  STEADY_CHECK(chunks <= 0x7fffffff && mask_chunks <= 0x7fffffff, op, ": ", fx.str(),
               " is too large");
  // Scratch in doubles (held as twice as many floats): loss partials, mask partials, denominator.
  Tensor scratch = Tensor::empty({2 * (chunks + mask_chunks + 1)}, Device::CUDA);
  double* partial = static_cast<double*>(scratch.raw());
  double* mask_partial = partial + chunks;
  double* denom_dev = mask_partial + mask_chunks;

  RegArgs a;
  a.kind = static_cast<int>(kind);
  a.fx = fx.data<float>();
  a.ftx = ftx.data<float>();
  a.y = needs_y ? y.data<float>() : nullptr;
  a.mats = needs_warp ? matrix.data<float>() : nullptr;
  a.mask = mask.defined() ? mask.data<float>() : nullptr;
  a.denom_dev = nullptr;
  a.denom_host = std::max(1.0, static_cast<double>(c) * static_cast<double>(pixels));
  a.grad_fx = out.grad_fx.data<float>();
  a.grad_ftx = out.grad_ftx.data<float>();
  a.n = n, a.c = c, a.h = h, a.w = w;

  cudaStream_t stream = cuda::stream();
  if (mask_chunks > 0) {
    cuda::sum_chunks_kernel<kThreads, kMaskChunk><<<static_cast<unsigned int>(mask_chunks), kThreads, 0, stream>>>(
        a.mask, pixels, mask_partial);
    CUDA_CHECK_LAUNCH("sum_chunks_kernel (mask)");
    mask_denominator_kernel<<<1, kThreads, 0, stream>>>(mask_partial, mask_chunks,
                                                         static_cast<double>(c), denom_dev);
    CUDA_CHECK_LAUNCH("mask_denominator_kernel");
    a.denom_dev = denom_dev;
  } else if (mask.defined()) {
    a.denom_host = 1.0;  // an empty mask sums to zero: max(1, 0)
  }
  if (pixels > 0 && c > 0) {
    reg_loss_kernel<<<static_cast<unsigned int>(chunks), kThreads, 0, stream>>>(a, partial);
    CUDA_CHECK_LAUNCH("reg_loss_kernel");
  } else {
    CUDA_CHECK(cudaMemsetAsync(partial, 0, sizeof(double), stream));
  }
  reg_loss_total_kernel<<<1, kThreads, 0, stream>>>(partial, pixels > 0 && c > 0 ? chunks : 1,
                                                     a.denom_dev, a.denom_host,
                                                     out.loss.data<float>());
  CUDA_CHECK_LAUNCH("reg_loss_total_kernel");
  if (kind == RegKind::TransInv)
    cuda::warp_adjoint(a.grad_ftx, a.mats, a.grad_fx, n, c, h, w, -1.f);
}

}  // namespace steady
