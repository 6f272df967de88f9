// The bilinear affine warp on CUDA, float32 images with float32 [N,6] matrices; coordinates and
// weights in double through kernels/warp_math.h, the same expressions as the CPU twin
// (kernels/warp.cpp), so the two agree to float32 rounding.
//   warp_affine_forward:  one thread per output pixel, all channels: bilinear read of the four
//                         taps, zero outside.
//   warp_affine_backward: the exact adjoint with respect to the image as a GATHER, deterministic
//                         without atomics: one thread per input pixel (i, j) visits, in row-major
//                         order, the output pixels of the preimage window of (i, j) (the box
//                         A^-1 maps the unit box to, about 3x3 for Table 1's near-identity maps,
//                         sized from each matrix, so any invertible matrix is exact; a singular
//                         one falls back to the whole image, slow but exact), recomputes each
//                         one's taps with the forward's arithmetic and adds weight * cotangent.
//   warp_valid_mask:      1 where the sample point lies in [0, W-1] x [0, H-1].
// Tested against the CPU twin in tests/gpu_warp.cpp (forward, adjoint, mask; strong and
// degenerate matrices; repeat runs bitwise equal).
#include "engine/cuda/launch.cuh"
#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/runtime.h"
#include "kernels/warp.cuh"
#include "kernels/warp_math.h"

namespace steady {

namespace {

constexpr int kThreads = cuda::kFlatThreads;

// Output pixel idx of an [n, h, w] grid: its sample s, its offset pix in the plane, and the point
// (sx, sy) its sample's matrix reads.
struct OutputPixel {
  int64_t s, pix;
  double sx, sy;
};
__device__ inline OutputPixel output_pixel(int64_t idx, int64_t hw, int64_t w, const float* mats) {
  OutputPixel p;
  p.s = idx / hw;
  p.pix = idx - p.s * hw;
  const int64_t y = p.pix / w, x = p.pix - y * w;
  warp::sample_point(mats + 6 * p.s, x, y, p.sx, p.sy);
  return p;
}

__global__ void warp_forward_kernel(const float* x, const float* mats, float* out, int64_t n,
                                    int64_t c, int64_t h, int64_t w) {
  const int64_t hw = h * w;
  STEADY_GRID_STRIDE_LOOP(idx, n * hw) {
    const OutputPixel p = output_pixel(idx, hw, w, mats);
    const warp::Taps t = warp::taps(p.sx, p.sy, h, w);
    for (int64_t ch = 0; ch < c; ++ch) {
      const int64_t plane = (p.s * c + ch) * hw;
      out[plane + p.pix] = static_cast<float>(warp::bilinear(x + plane, t, h, w));
    }
  }
}

__global__ void warp_mask_kernel(const float* mats, float* out, int64_t n, int64_t h,
                                 int64_t w) {
  const int64_t hw = h * w;
  STEADY_GRID_STRIDE_LOOP(idx, n * hw) {
    const OutputPixel p = output_pixel(idx, hw, w, mats);
    out[idx] = warp::valid(p.sx, p.sy, h, w) ? 1.f : 0.f;
  }
}

// Channels summed per visit of the window; more channels take further rounds of the window.
constexpr int kChannelGroup = 4;

__global__ void warp_adjoint_gather_kernel(const float* gy, const float* mats, float* gx,
                                           int64_t n, int64_t c, int64_t h, int64_t w,
                                           float sign) {
  const int64_t hw = h * w;
  STEADY_GRID_STRIDE_LOOP(idx, n * hw) {
    const int64_t s = idx / hw, pix = idx - s * hw;
    const int64_t j = pix / w, i = pix - j * w;
    const float* m = mats + 6 * s;
    const warp::Window win = warp::preimage_window(m, i, j, h, w);
    for (int64_t c0 = 0; c0 < c; c0 += kChannelGroup) {
      const int64_t cn = c - c0 < kChannelGroup ? c - c0 : kChannelGroup;
      double acc[kChannelGroup] = {0.0, 0.0, 0.0, 0.0};
      for (int64_t qy = win.y_lo; qy <= win.y_hi; ++qy) {
        for (int64_t qx = win.x_lo; qx <= win.x_hi; ++qx) {
          double sx, sy;
          warp::sample_point(m, qx, qy, sx, sy);
          const double wt = warp::tap_weight(warp::taps(sx, sy, h, w), i, j);
          if (wt == 0.0) continue;
          const float* g = gy + (s * c + c0) * hw + qy * w + qx;
#pragma unroll
          for (int k = 0; k < kChannelGroup; ++k)
            if (k < cn) acc[k] += wt * static_cast<double>(g[k * hw]);
        }
      }
      for (int64_t k = 0; k < cn; ++k)
        gx[(s * c + c0 + k) * hw + pix] = static_cast<float>(static_cast<double>(sign) * acc[k]);
    }
  }
}

}  // namespace

namespace cuda {

void warp_adjoint(const float* gy, const float* mats, float* gx, int64_t n, int64_t c,
                  int64_t h, int64_t w, float sign) {
  const int64_t pixels = n * h * w;
  if (pixels == 0 || c == 0) return;
  warp_adjoint_gather_kernel<<<grid_for(pixels, kThreads), kThreads, 0, stream()>>>(
      gy, mats, gx, n, c, h, w, sign);
  CUDA_CHECK_LAUNCH("warp_adjoint_gather_kernel");
}

}  // namespace cuda

void CudaBackend::warp_affine_forward_impl(const Tensor& x, const Tensor& matrix, Tensor& y) {
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  STEADY_LAUNCH_FLAT(warp_forward_kernel, n * h * w, x.data<float>(), matrix.data<float>(),
                     y.data<float>(), n, c, h, w);
}

void CudaBackend::warp_affine_backward_impl(const Tensor& gy, const Tensor& matrix, Tensor& gx) {
  const int64_t n = gy.size(0), c = gy.size(1), h = gy.size(2), w = gy.size(3);
  cuda::warp_adjoint(gy.data<float>(), matrix.data<float>(), gx.data<float>(), n, c, h, w, 1.f);
}

void CudaBackend::warp_valid_mask_impl(const Tensor& matrix, Tensor& mask) {
  const int64_t n = mask.size(0), h = mask.size(2), w = mask.size(3);
  STEADY_LAUNCH_FLAT(warp_mask_kernel, n * h * w, matrix.data<float>(), mask.data<float>(), n, h, w);
}

}  // namespace steady
