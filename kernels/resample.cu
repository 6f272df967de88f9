// Resampling and channel layout on CUDA, NCHW float32:
//  - max_pool2d: window k, stride s, no padding; the first maximum in row-major window order wins
//    (a NaN counts as the maximum). The backward pass is a gather: each input pixel visits the
//    windows that contain it, re-finds each window's argmax and adds the gradients of the windows
//    whose argmax it is, in window order.
//  - upsample_nearest2d by an integer factor; backward: each input pixel sums its factor x factor
//    block.
//  - resize_bilinear, align_corners=false as PyTorch (source (dst + 0.5) * in/out - 0.5, clamped
//    below at 0, upper tap clamped at the edge). The backward pass is a gather too: each input
//    pixel walks the output pixels whose taps can reach it (a contiguous range per axis, bounded
//    analytically with a margin, then each tap is checked exactly) and adds weight * gradient.
//  - concat_channels / slice_channels along dimension 1, as strided device-to-device copies.
// No atomics anywhere, so every result is deterministic. The gathers add contributions in the
// same order as the CPU twin's scatter loops, and products are rounded on their own (__fmul_rn)
// as on the CPU, so results match the CPU bit for bit.
// CPU twin: kernels/resample.cpp. Tested by tests/gpu_ops (against the CPU on random inputs and
// several shapes, up and down, ties in max-pool windows, outputs poisoned, guard bytes).
#include <algorithm>
#include <cmath>

#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/runtime.h"

namespace steady {

namespace {

constexpr int kThreads = 256;

// The per-pixel kernels run on a 2-D grid: y over the N*C planes, x over the pixels of one
// plane. A plane has fewer than 2^31 pixels (plane_grid checks), so splitting the in-plane index
// into row and column is one 32-bit division, not two 64-bit ones per element.
#define PLANE_LOOP(p, r, planes, plane)                                                  \
  for (int64_t p = blockIdx.y; p < (planes); p += gridDim.y)                             \
    for (int64_t r##_ = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;     \
         r##_ < (plane); r##_ += static_cast<int64_t>(gridDim.x) * blockDim.x)           \
      if (const int r = static_cast<int>(r##_); true)

dim3 plane_grid(const char* op, int64_t planes, int64_t plane) {
  STEADY_CHECK(plane < (int64_t(1) << 31), op, ": a plane of ", plane, " pixels is too large");
  const int64_t bx = std::min<int64_t>((plane + kThreads - 1) / kThreads, int64_t(1) << 20);
  const int64_t by = std::min<int64_t>(planes, 65535);
  return dim3(static_cast<unsigned>(std::max<int64_t>(bx, 1)),
              static_cast<unsigned>(std::max<int64_t>(by, 1)));
}

// ---- max pool

// Index of the first maximum of the k x k window at (y0, x0) of a plane of width w; NaN wins
// over any number, the first NaN over later ones (as the CPU twin).
__device__ int64_t window_argmax(const float* plane, int64_t w, int64_t y0, int64_t x0, int k) {
  int64_t best = y0 * w + x0;
  float best_v = plane[best];
  for (int dy = 0; dy < k; ++dy) {
    for (int dx = 0; dx < k; ++dx) {
      const int64_t idx = (y0 + dy) * w + (x0 + dx);
      const float v = plane[idx];
      if (v > best_v || (isnan(v) && !isnan(best_v))) {
        best_v = v;
        best = idx;
      }
    }
  }
  return best;
}

__global__ void max_pool_kernel(const float* x, float* y, int64_t planes, int h, int w, int ho,
                                int wo, int k, int s) {
  PLANE_LOOP(p, r, planes, ho * wo) {
    const int oy = r / wo, ox = r - oy * wo;
    const float* plane = x + p * h * w;
    y[p * ho * wo + r] = plane[window_argmax(plane, w, oy * s, ox * s, k)];
  }
}

// The windows [lo, hi] (inclusive) along one axis whose span [o*s, o*s + k) contains i.
__device__ void windows_containing(int i, int k, int s, int count, int* lo, int* hi) {
  const int first = i - k + 1;  // smallest window start that still reaches i
  *lo = first <= 0 ? 0 : (first + s - 1) / s;
  const int last = i / s;
  *hi = last < count - 1 ? last : count - 1;
}

__global__ void max_pool_backward_kernel(const float* x, const float* gy, float* gx,
                                         int64_t planes, int h, int w, int ho, int wo, int k,
                                         int s) {
  PLANE_LOOP(p, r, planes, h * w) {
    const int iy = r / w, ix = r - iy * w;
    const float* plane = x + p * h * w;
    const float* g = gy + p * ho * wo;
    int oy_lo, oy_hi, ox_lo, ox_hi;
    windows_containing(iy, k, s, ho, &oy_lo, &oy_hi);
    windows_containing(ix, k, s, wo, &ox_lo, &ox_hi);
    float acc = 0.f;
    for (int oy = oy_lo; oy <= oy_hi; ++oy)
      for (int ox = ox_lo; ox <= ox_hi; ++ox)
        if (window_argmax(plane, w, oy * s, ox * s, k) == r) acc += g[oy * wo + ox];
    gx[p * h * w + r] = acc;
  }
}

// ---- nearest upsampling

__global__ void upsample_nearest_kernel(const float* x, float* y, int64_t planes, int h, int w,
                                        int factor) {
  const int ho = h * factor, wo = w * factor;
  PLANE_LOOP(p, r, planes, ho * wo) {
    const int oy = r / wo, ox = r - oy * wo;
    y[p * ho * wo + r] = x[p * h * w + (oy / factor) * w + ox / factor];
  }
}

__global__ void upsample_nearest_backward_kernel(const float* gy, float* gx, int64_t planes,
                                                 int h, int w, int factor) {
  const int ho = h * factor, wo = w * factor;
  PLANE_LOOP(p, r, planes, h * w) {
    const int iy = r / w, ix = r - iy * w;
    const float* g = gy + p * ho * wo;
    float acc = 0.f;
    for (int dy = 0; dy < factor; ++dy)
      for (int dx = 0; dx < factor; ++dx) acc += g[(iy * factor + dy) * wo + ix * factor + dx];
    gx[p * h * w + r] = acc;
  }
}

// ---- bilinear resize

// The two source taps of output index d along an axis of `in` -> `out` samples, and their
// weights, computed in float exactly as the CPU twin's BilinearAxis<float>.
struct Taps {
  int64_t i0, i1;
  float w0, w1;
};

__device__ Taps bilinear_taps(int64_t in, int64_t out, int64_t d) {
  const float scale = __fdiv_rn(static_cast<float>(in), static_cast<float>(out));
  float src = __fsub_rn(__fmul_rn(scale, __fadd_rn(static_cast<float>(d), 0.5f)), 0.5f);
  if (src < 0.f) src = 0.f;
  int64_t lo = static_cast<int64_t>(src);
  if (lo > in - 1) lo = in - 1;
  const int64_t hi = lo < in - 1 ? lo + 1 : lo;
  const float lambda = __fsub_rn(src, static_cast<float>(lo));
  return Taps{lo, hi, 1.f - lambda, lambda};
}

// Output indices [lo, hi] along an axis whose taps may reach input index i. A tap reaches i
// when the lower tap is i-1 or i, i.e. max(src, 0) lies in [i-1, i+1); solved for d with a
// margin of one sample on each side (the callers check every tap exactly).
__device__ void outputs_reaching(int64_t i, int64_t in, int64_t out, int64_t* lo, int64_t* hi) {
  const double inv = static_cast<double>(out) / static_cast<double>(in);
  int64_t l = 0;  // for i <= 1 every clamped source (src < 0) reaches i
  if (i > 1) l = static_cast<int64_t>(floor((static_cast<double>(i) - 0.5) * inv - 0.5)) - 1;
  int64_t h = static_cast<int64_t>(ceil((static_cast<double>(i) + 1.5) * inv - 0.5)) + 1;
  *lo = l < 0 ? 0 : l;
  *hi = h > out - 1 ? out - 1 : h;
}

__global__ void resize_bilinear_kernel(const float* x, float* y, int64_t planes, int h, int w,
                                       int out_h, int out_w) {
  PLANE_LOOP(p, r, planes, out_h * out_w) {
    const int oy = r / out_w, ox = r - oy * out_w;
    const Taps ty = bilinear_taps(h, out_h, oy), tx = bilinear_taps(w, out_w, ox);
    const float* r0 = x + p * h * w + ty.i0 * w;  // p is 64-bit: the products are too
    const float* r1 = x + p * h * w + ty.i1 * w;
    const float top = __fadd_rn(__fmul_rn(tx.w0, r0[tx.i0]), __fmul_rn(tx.w1, r0[tx.i1]));
    const float bottom = __fadd_rn(__fmul_rn(tx.w0, r1[tx.i0]), __fmul_rn(tx.w1, r1[tx.i1]));
    y[p * out_h * out_w + r] = __fadd_rn(__fmul_rn(ty.w0, top), __fmul_rn(ty.w1, bottom));
  }
}

__global__ void resize_bilinear_backward_kernel(const float* gy, float* gx, int64_t planes,
                                                int in_h, int in_w, int out_h, int out_w) {
  PLANE_LOOP(p, r, planes, in_h * in_w) {
    const int iy = r / in_w, ix = r - iy * in_w;
    const float* g = gy + p * out_h * out_w;
    int64_t oy_lo, oy_hi, ox_lo, ox_hi;
    outputs_reaching(iy, in_h, out_h, &oy_lo, &oy_hi);
    outputs_reaching(ix, in_w, out_w, &ox_lo, &ox_hi);
    float acc = 0.f;
    for (int64_t oy = oy_lo; oy <= oy_hi; ++oy) {
      const Taps ty = bilinear_taps(in_h, out_h, oy);
      if (ty.i0 != iy && ty.i1 != iy) continue;
      for (int64_t ox = ox_lo; ox <= ox_hi; ++ox) {
        const Taps tx = bilinear_taps(in_w, out_w, ox);
        if (tx.i0 != ix && tx.i1 != ix) continue;
        const float v = g[oy * out_w + ox];
        // The CPU twin's four scatter updates, in its order: (i0,i0) (i0,i1) (i1,i0) (i1,i1).
        auto add = [&](float wy, float wx) {
          acc = __fadd_rn(acc, __fmul_rn(__fmul_rn(wy, wx), v));
        };
        if (ty.i0 == iy && tx.i0 == ix) add(ty.w0, tx.w0);
        if (ty.i0 == iy && tx.i1 == ix) add(ty.w0, tx.w1);
        if (ty.i1 == iy && tx.i0 == ix) add(ty.w1, tx.w0);
        if (ty.i1 == iy && tx.i1 == ix) add(ty.w1, tx.w1);
      }
    }
    gx[p * in_h * in_w + r] = acc;
  }
}

}  // namespace

void CudaBackend::max_pool2d_impl(const Tensor& x, int k, int s, Tensor& y) {
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  const int64_t ho = y.size(2), wo = y.size(3);
  max_pool_kernel<<<plane_grid("max_pool2d", n * c, ho * wo), kThreads, 0, cuda::stream()>>>(
      x.data<float>(), y.data<float>(), n * c, int(h), int(w), int(ho), int(wo), k, s);
  CUDA_CHECK_LAUNCH("max_pool_kernel");
}

void CudaBackend::max_pool2d_backward_impl(const Tensor& x, const Tensor& gy, int k, int s,
                                           Tensor& gx) {
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  const int64_t ho = gy.size(2), wo = gy.size(3);
  max_pool_backward_kernel<<<plane_grid("max_pool2d_backward", n * c, h * w), kThreads, 0,
                             cuda::stream()>>>(x.data<float>(), gy.data<float>(), gx.data<float>(),
                                               n * c, int(h), int(w), int(ho), int(wo), k, s);
  CUDA_CHECK_LAUNCH("max_pool_backward_kernel");
}

void CudaBackend::upsample_nearest2d_impl(const Tensor& x, int factor, Tensor& y) {
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  upsample_nearest_kernel<<<plane_grid("upsample_nearest2d", n * c, h * factor * w * factor),
                            kThreads, 0, cuda::stream()>>>(x.data<float>(), y.data<float>(), n * c,
                                                           int(h), int(w), factor);
  CUDA_CHECK_LAUNCH("upsample_nearest_kernel");
}

void CudaBackend::upsample_nearest2d_backward_impl(const Tensor& gy, int factor, Tensor& gx) {
  const int64_t n = gy.size(0), c = gy.size(1), ho = gy.size(2), wo = gy.size(3);
  const int64_t h = ho / factor, w = wo / factor;
  plane_grid("upsample_nearest2d_backward", n * c, ho * wo);  // the gy plane is the larger
  upsample_nearest_backward_kernel<<<plane_grid("upsample_nearest2d_backward", n * c, h * w),
                                     kThreads, 0, cuda::stream()>>>(
      gy.data<float>(), gx.data<float>(), n * c, int(h), int(w), factor);
  CUDA_CHECK_LAUNCH("upsample_nearest_backward_kernel");
}

void CudaBackend::resize_bilinear_impl(const Tensor& x, Tensor& y) {
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  const int out_h = static_cast<int>(y.size(2)), out_w = static_cast<int>(y.size(3));
  plane_grid("resize_bilinear", n * c, h * w);  // the input plane too
  resize_bilinear_kernel<<<plane_grid("resize_bilinear", n * c, int64_t(out_h) * out_w), kThreads,
                           0, cuda::stream()>>>(x.data<float>(), y.data<float>(), n * c, int(h),
                                                int(w), out_h, out_w);
  CUDA_CHECK_LAUNCH("resize_bilinear_kernel");
}

void CudaBackend::resize_bilinear_backward_impl(const Tensor& gy, Tensor& gx) {
  const int64_t n = gy.size(0), c = gy.size(1), out_h = gy.size(2), out_w = gy.size(3);
  const int in_h = static_cast<int>(gx.size(2)), in_w = static_cast<int>(gx.size(3));
  plane_grid("resize_bilinear_backward", n * c, out_h * out_w);  // the gy plane too
  resize_bilinear_backward_kernel<<<plane_grid("resize_bilinear_backward", n * c,
                                               int64_t(in_h) * in_w),
                                    kThreads, 0, cuda::stream()>>>(
      gy.data<float>(), gx.data<float>(), n * c, in_h, in_w, int(out_h), int(out_w));
  CUDA_CHECK_LAUNCH("resize_bilinear_backward_kernel");
}

// Each input's block of channels is a strided copy: N rows of (its channels x plane) floats,
// written at a pitch of (all channels x plane).
void CudaBackend::concat_channels_impl(const std::vector<Tensor>& xs, Tensor& y) {
  const Tensor& first = xs[0];
  const int64_t total_c = y.size(1);
  const int64_t n = first.size(0);
  int64_t plane = 1;
  for (int d = 2; d < first.dim(); ++d) plane *= first.size(d);
  const size_t row_pitch = static_cast<size_t>(total_c * plane) * sizeof(float);
  int64_t c_offset = 0;
  for (const Tensor& t : xs) {
    const size_t width = static_cast<size_t>(t.size(1) * plane) * sizeof(float);
    if (width > 0 && n > 0) {
      CUDA_CHECK(cudaMemcpy2DAsync(y.data<float>() + c_offset * plane, row_pitch, t.data<float>(),
                                   width, width, static_cast<size_t>(n), cudaMemcpyDeviceToDevice,
                                   cuda::stream()));
    }
    c_offset += t.size(1);
  }
}

void CudaBackend::slice_channels_impl(const Tensor& x, int64_t begin, Tensor& y) {
  const int64_t n = x.size(0), c = x.size(1), end = begin + y.size(1);
  int64_t plane = 1;
  for (int d = 2; d < x.dim(); ++d) plane *= x.size(d);
  const size_t width = static_cast<size_t>((end - begin) * plane) * sizeof(float);
  const size_t src_pitch = static_cast<size_t>(c * plane) * sizeof(float);
  if (width > 0 && n > 0) {
    CUDA_CHECK(cudaMemcpy2DAsync(y.data<float>(), width, x.data<float>() + begin * plane,
                                 src_pitch, width, static_cast<size_t>(n),
                                 cudaMemcpyDeviceToDevice, cuda::stream()));
  }
}

}  // namespace steady
