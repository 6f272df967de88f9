// Bilinear affine warp, CPU twin of kernels/warp.cu (float and double).
//   warp_affine_forward:  out(n,c,y,x) = bilinear sample of x(n,c) at (m0 x + m1 y + m2,
//                         m3 x + m4 y + m5), reading zero outside the image.
//   warp_affine_backward: the exact adjoint with respect to the image: every output pixel
//                         scatters its cotangent to the four taps it read, with the same
//                         weights. Planes run in parallel; inside a plane the order is fixed,
//                         so results are deterministic.
//   warp_valid_mask:      1 where the sample point lies in [0, W-1] x [0, H-1].
// The per-pixel math (sample points, taps, weights, validity; in double for any dtype) is
// kernels/warp_math.h, shared with the CUDA kernels. Tested in tests/test_warp.cpp against the
// golden answers of an independent float64 implementation, a naive re-implementation, exact
// shifts, and <W u, v> = <u, W^T v>; against CUDA in tests/gpu_warp.cpp.
#include <vector>

#include "engine/cpu/cpu_backend.h"
#include "kernels/cpu_kernel_util.h"
#include "kernels/warp_math.h"

namespace steady {

namespace {

template <class T>
void warp_plane_forward(const T* in, T* out, int64_t H, int64_t W, const double* m) {
  for (int64_t y = 0; y < H; ++y)
    for (int64_t x = 0; x < W; ++x) {
      double xs, ys;
      warp::sample_point(m, x, y, xs, ys);
      out[y * W + x] = static_cast<T>(warp::bilinear(in, warp::taps(xs, ys, H, W), H, W));
    }
}

// The scatter in a fixed order, accumulated in double: exact for any matrix.
template <class T>
void warp_plane_adjoint(const T* gy, T* gx, int64_t H, int64_t W, const double* m) {
  std::vector<double> acc(H * W, 0.0);
  for (int64_t y = 0; y < H; ++y)
    for (int64_t x = 0; x < W; ++x) {
      double xs, ys;
      warp::sample_point(m, x, y, xs, ys);
      const warp::Taps t = warp::taps(xs, ys, H, W);
      if (!t.any) continue;
      const double g = gy[y * W + x];
      const double w[4] = {t.wx0 * t.wy0, t.wx1 * t.wy0, t.wx0 * t.wy1, t.wx1 * t.wy1};
      for (int k = 0; k < 4; ++k) {
        int64_t xi = t.x0 + (k & 1), yi = t.y0 + (k >> 1);
        if (xi >= 0 && xi < W && yi >= 0 && yi < H) acc[yi * W + xi] += w[k] * g;
      }
    }
  for (int64_t i = 0; i < H * W; ++i) gx[i] = static_cast<T>(acc[i]);
}

// Runs plane_fn(src_plane, out_plane, H, W, matrix) over every [H,W] plane of a [N,C,H,W]
// tensor, each plane with its sample's matrix.
template <class PlaneFn>
void warp_planes(const Tensor& src, const Tensor& matrix, Tensor& out, PlaneFn plane_fn) {
  const int64_t N = src.size(0), C = src.size(1), H = src.size(2), W = src.size(3);
  const std::vector<double> m = cpu_kernel::values(matrix);
  cpu_kernel::dispatch(src.dtype(), [&](auto zero) {
    using T = decltype(zero);
    const T* in = src.data<T>();
    T* o = out.data<T>();
#pragma omp parallel for schedule(static) if (N * C * H * W > cpu_kernel::kParallelThreshold)
    for (int64_t p = 0; p < N * C; ++p)
      plane_fn(in + p * H * W, o + p * H * W, H, W, m.data() + 6 * (p / C));
  });
}

}  // namespace

void CpuBackend::warp_affine_forward_impl(const Tensor& x, const Tensor& matrix, Tensor& y) {
  warp_planes(x, matrix, y, [](auto... args) { warp_plane_forward(args...); });
}

void CpuBackend::warp_affine_backward_impl(const Tensor& gy, const Tensor& matrix, Tensor& gx) {
  warp_planes(gy, matrix, gx, [](auto... args) { warp_plane_adjoint(args...); });
}

void CpuBackend::warp_valid_mask_impl(const Tensor& matrix, Tensor& mask) {
  const int64_t n = mask.size(0), h = mask.size(2), w = mask.size(3);
  const std::vector<double> m = cpu_kernel::values(matrix);
  cpu_kernel::dispatch(mask.dtype(), [&](auto zero) {
    using T = decltype(zero);
    T* o = mask.data<T>();
    for (int64_t i = 0; i < n; ++i)
      for (int64_t y = 0; y < h; ++y)
        for (int64_t x = 0; x < w; ++x) {
          double xs, ys;
          warp::sample_point(m.data() + 6 * i, x, y, xs, ys);
          o[(i * h + y) * w + x] = warp::valid(xs, ys, h, w) ? T(1) : T(0);
        }
  });
}

}  // namespace steady
