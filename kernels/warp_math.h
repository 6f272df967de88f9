// Per-pixel math of the bilinear affine warp, shared by the CPU twin (kernels/warp.cpp) and the
// CUDA kernels (kernels/warp.cu, kernels/reg_loss.cu), so both compute sample points, tap
// weights and validity with the same expressions. Coordinates and weights are in double on
// both sides whatever the image's dtype, and both round every product and sum on its own (the
// CUDA files are built with -fmad=false, see CMakeLists.txt; the host code is built without
// FMA contraction), so float32 results agree to the last rounding.
//
// Convention: output pixel (x = column, y = row) samples the input at
// (m0 x + m1 y + m2, m3 x + m4 y + m5); bilinear over the four taps around it, a tap outside
// the image reads zero (and receives nothing in the adjoint).
#pragma once
#include <cmath>
#include <cstdint>

#ifdef __CUDACC__
#define STEADY_WARP_HD __host__ __device__ __forceinline__
#else
#define STEADY_WARP_HD inline
#endif

namespace steady {
namespace warp {

// Taps of one sample point: columns x0, x0+1 and rows y0, y0+1 with their 1-D weights.
struct Taps {
  int64_t x0, y0;
  double wx0, wx1, wy0, wy1;
  bool any;  // false when no tap with weight can be inside the image (also for NaN points)
};

template <class M>
STEADY_WARP_HD void sample_point(const M* m, int64_t x, int64_t y, double& sx, double& sy) {
  const double fx = static_cast<double>(x), fy = static_cast<double>(y);
  sx = static_cast<double>(m[0]) * fx + static_cast<double>(m[1]) * fy + static_cast<double>(m[2]);
  sy = static_cast<double>(m[3]) * fx + static_cast<double>(m[4]) * fy + static_cast<double>(m[5]);
}

STEADY_WARP_HD Taps taps(double sx, double sy, int64_t h, int64_t w) {
  Taps t;
  // Outside (-1, w) x (-1, h) every tap is outside or has weight zero; the test also keeps
  // floor() of huge or NaN values away from the integer conversion.
  t.any = sx > -1.0 && sx < static_cast<double>(w) && sy > -1.0 && sy < static_cast<double>(h);
  if (!t.any) {
    t.x0 = t.y0 = 0;
    t.wx0 = t.wx1 = t.wy0 = t.wy1 = 0.0;
    return t;
  }
  const double fx0 = floor(sx), fy0 = floor(sy);
  t.x0 = static_cast<int64_t>(fx0);
  t.y0 = static_cast<int64_t>(fy0);
  t.wx1 = sx - fx0;
  t.wy1 = sy - fy0;
  t.wx0 = 1.0 - t.wx1;
  t.wy0 = 1.0 - t.wy1;
  return t;
}

// Bilinear read of one [h, w] plane at the taps, zero outside, accumulated in double in the
// tap order (x0,y0) (x0+1,y0) (x0,y0+1) (x0+1,y0+1).
template <class T>
STEADY_WARP_HD double bilinear(const T* plane, const Taps& t, int64_t h, int64_t w) {
  if (!t.any) return 0.0;
  const bool x0in = t.x0 >= 0, x1in = t.x0 + 1 < w;
  double v = 0.0;
  if (t.y0 >= 0) {
    const T* row = plane + t.y0 * w;
    if (x0in) v += (t.wx0 * t.wy0) * static_cast<double>(row[t.x0]);
    if (x1in) v += (t.wx1 * t.wy0) * static_cast<double>(row[t.x0 + 1]);
  }
  if (t.y0 + 1 < h) {
    const T* row = plane + (t.y0 + 1) * w;
    if (x0in) v += (t.wx0 * t.wy1) * static_cast<double>(row[t.x0]);
    if (x1in) v += (t.wx1 * t.wy1) * static_cast<double>(row[t.x0 + 1]);
  }
  return v;
}

// The weight with which a sample with taps t reads input pixel (i = column, j = row): the same
// product bilinear() uses, or zero when (i, j) is not one of its taps. A gather of these over
// output pixels is the exact transpose of the forward warp.
STEADY_WARP_HD double tap_weight(const Taps& t, int64_t i, int64_t j) {
  if (!t.any) return 0.0;
  double wx, wy;
  if (i == t.x0) wx = t.wx0;
  else if (i == t.x0 + 1) wx = t.wx1;
  else return 0.0;
  if (j == t.y0) wy = t.wy0;
  else if (j == t.y0 + 1) wy = t.wy1;
  else return 0.0;
  return wx * wy;
}

// The sample point lies in [0, w-1] x [0, h-1]: every tap with weight is inside the image.
STEADY_WARP_HD bool valid(double sx, double sy, int64_t h, int64_t w) {
  return sx >= 0.0 && sx <= static_cast<double>(w - 1) && sy >= 0.0 &&
         sy <= static_cast<double>(h - 1);
}

// The output pixels whose taps may touch input pixel (i, j), as an inclusive box: the preimage
// of (i, j) under the 2x2 part A, half-widths |A^-1| applied to the unit box (a tap has weight
// only within one pixel of its sample point), widened by a rounding slack and clamped to the
// image. Exact for ANY invertible matrix: the box only grows with |A^-1| (about 3x3 pixels for
// Table 1's near-identity maps). A singular or non-finite A gives the whole image: slow, still
// exact. An empty box has x_lo > x_hi.
struct Window {
  int64_t x_lo, x_hi, y_lo, y_hi;
};

template <class M>
STEADY_WARP_HD Window preimage_window(const M* mat, int64_t i, int64_t j, int64_t h, int64_t w) {
  Window win{0, w - 1, 0, h - 1};
  const double a = mat[0], b = mat[1], c = mat[3], d = mat[4];
  const double det = a * d - b * c;
  const double norm = fabs(a) + fabs(b) + fabs(c) + fabs(d);
  if (!(fabs(det) > 1e-6 * norm * norm)) return win;
  const double inv = 1.0 / det;
  const double u = static_cast<double>(i) - static_cast<double>(mat[2]);
  const double v = static_cast<double>(j) - static_cast<double>(mat[5]);
  const double qx = (d * u - b * v) * inv, qy = (a * v - c * u) * inv;
  const double slack = 1e-3;  // far above the double rounding of these few operations
  const double ex = (fabs(d) + fabs(b)) * fabs(inv) + slack;
  const double ey = (fabs(c) + fabs(a)) * fabs(inv) + slack;
  const double xl = qx - ex, xh = qx + ex, yl = qy - ey, yh = qy + ey;
  if (!(xl == xl && xh == xh && yl == yl && yh == yh)) return win;  // NaN
  if (xh < 0.0 || yh < 0.0 || xl > static_cast<double>(w - 1) ||
      yl > static_cast<double>(h - 1)) {
    return Window{0, -1, 0, -1};
  }
  if (xl > 0.0) win.x_lo = static_cast<int64_t>(ceil(xl));
  if (xh < static_cast<double>(w - 1)) win.x_hi = static_cast<int64_t>(floor(xh));
  if (yl > 0.0) win.y_lo = static_cast<int64_t>(ceil(yl));
  if (yh < static_cast<double>(h - 1)) win.y_hi = static_cast<int64_t>(floor(yh));
  return win;
}

}  // namespace warp
}  // namespace steady
