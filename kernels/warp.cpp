// Bilinear affine warp, CPU twin of kernels/warp.cu (float and double).
//   warp_affine_forward:  out(n,c,y,x) = bilinear sample of x(n,c) at (m0 x + m1 y + m2,
//                         m3 x + m4 y + m5), reading zero outside the image.
//   warp_affine_backward: the exact adjoint with respect to the image: every output pixel
//                         scatters its cotangent to the four taps it read, with the same
//                         weights. Planes run in parallel; inside a plane the order is fixed,
//                         so results are deterministic.
//   warp_valid_mask:      1 where the sample point lies in [0, W-1] x [0, H-1].
// Tested in tests/test_warp.cpp against the golden answers of an independent float64
// implementation, a naive re-implementation, exact shifts, and <W u, v> = <u, W^T v>.
#include <cmath>
#include <vector>

#include "engine/cpu/cpu_backend.h"
#include "kernels/cpu_kernel_util.h"

namespace steady {

namespace {

std::vector<double> matrices_of(const char* op, const Tensor& matrix, int64_t n) {
  STEADY_CHECK(matrix.defined() && matrix.dim() == 2 && matrix.size(0) == n && matrix.size(1) == 6,
               op, ": matrix must be [", n, ", 6], got ", matrix.str());
  return matrix.to_host();
}

// The four taps of a sample point and their bilinear weights; a tap outside the image gets
// weight 0 (it reads zero in the forward pass and receives nothing in the adjoint).
struct Taps {
  int64_t x0, y0;
  double w[4];  // (x0,y0) (x0+1,y0) (x0,y0+1) (x0+1,y0+1)
};

inline Taps taps_at(double xs, double ys) {
  double fx = std::floor(xs), fy = std::floor(ys);
  double ax = xs - fx, ay = ys - fy;
  return {static_cast<int64_t>(fx), static_cast<int64_t>(fy),
          {(1 - ax) * (1 - ay), ax * (1 - ay), (1 - ax) * ay, ax * ay}};
}

template <class T>
void warp_plane_forward(const T* in, T* out, int64_t H, int64_t W, const double* m) {
  for (int64_t y = 0; y < H; ++y)
    for (int64_t x = 0; x < W; ++x) {
      Taps t = taps_at(m[0] * x + m[1] * y + m[2], m[3] * x + m[4] * y + m[5]);
      double v = 0;
      for (int k = 0; k < 4; ++k) {
        int64_t xi = t.x0 + (k & 1), yi = t.y0 + (k >> 1);
        if (xi >= 0 && xi < W && yi >= 0 && yi < H) v += t.w[k] * in[yi * W + xi];
      }
      out[y * W + x] = static_cast<T>(v);
    }
}

template <class T>
void warp_plane_adjoint(const T* gy, T* gx, int64_t H, int64_t W, const double* m) {
  std::vector<double> acc(H * W, 0.0);
  for (int64_t y = 0; y < H; ++y)
    for (int64_t x = 0; x < W; ++x) {
      Taps t = taps_at(m[0] * x + m[1] * y + m[2], m[3] * x + m[4] * y + m[5]);
      double g = gy[y * W + x];
      for (int k = 0; k < 4; ++k) {
        int64_t xi = t.x0 + (k & 1), yi = t.y0 + (k >> 1);
        if (xi >= 0 && xi < W && yi >= 0 && yi < H) acc[yi * W + xi] += t.w[k] * g;
      }
    }
  for (int64_t i = 0; i < H * W; ++i) gx[i] = static_cast<T>(acc[i]);
}

}  // namespace

Tensor CpuBackend::warp_affine_forward(const Tensor& x, const Tensor& matrix) {
  cpu_kernel::check_cpu("warp_affine_forward", x, "x");
  check_dim("warp_affine_forward", x, 4, "x");
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  std::vector<double> m = matrices_of("warp_affine_forward", matrix, N);
  Tensor out = Tensor::empty(x.shape(), Device::CPU, x.dtype());
  cpu_kernel::dispatch(x.dtype(), [&](auto zero) {
    using T = decltype(zero);
    const T* in = x.data<T>();
    T* o = out.data<T>();
#pragma omp parallel for schedule(static) if (N * C * H * W > cpu_kernel::kParallelThreshold)
    for (int64_t p = 0; p < N * C; ++p)
      warp_plane_forward(in + p * H * W, o + p * H * W, H, W, m.data() + 6 * (p / C));
  });
  return out;
}

Tensor CpuBackend::warp_affine_backward(const Tensor& gy, const Tensor& matrix) {
  cpu_kernel::check_cpu("warp_affine_backward", gy, "gy");
  check_dim("warp_affine_backward", gy, 4, "gy");
  const int64_t N = gy.size(0), C = gy.size(1), H = gy.size(2), W = gy.size(3);
  std::vector<double> m = matrices_of("warp_affine_backward", matrix, N);
  Tensor out = Tensor::empty(gy.shape(), Device::CPU, gy.dtype());
  cpu_kernel::dispatch(gy.dtype(), [&](auto zero) {
    using T = decltype(zero);
    const T* g = gy.data<T>();
    T* o = out.data<T>();
#pragma omp parallel for schedule(static) if (N * C * H * W > cpu_kernel::kParallelThreshold)
    for (int64_t p = 0; p < N * C; ++p)
      warp_plane_adjoint(g + p * H * W, o + p * H * W, H, W, m.data() + 6 * (p / C));
  });
  return out;
}

Tensor CpuBackend::warp_valid_mask(const Tensor& matrix, int64_t n, int64_t h, int64_t w) {
  std::vector<double> m = matrices_of("warp_valid_mask", matrix, n);
  Tensor out = Tensor::empty({n, 1, h, w});
  float* o = out.data<float>();
  for (int64_t i = 0; i < n; ++i) {
    const double* mi = m.data() + 6 * i;
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x) {
        double xs = mi[0] * x + mi[1] * y + mi[2], ys = mi[3] * x + mi[4] * y + mi[5];
        o[(i * h + y) * w + x] = (xs >= 0 && xs <= w - 1 && ys >= 0 && ys <= h - 1) ? 1.f : 0.f;
      }
  }
  return out;
}

}  // namespace steady
