// Naive reference of the bilinear affine warp for the tests, written differently from the
// kernels: every input pixel weighted by hat functions of its distance to the sample point
// (no floor, no taps), in double, plus its transpose and the regularization losses built on it.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace warp_reference {

inline double hat(double t) { return std::max(0.0, 1.0 - std::abs(t)); }

// out = W src (transpose false) or W^T src (true) for [n,c,h,w] arrays and [n,6] matrices:
// the same weights, with what is read and what is written swapped.
inline std::vector<double> apply(const std::vector<double>& src, const std::vector<double>& m,
                                 int64_t n, int64_t c, int64_t h, int64_t w, bool transpose) {
  std::vector<double> out(src.size(), 0.0);
  for (int64_t s = 0; s < n; ++s)
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x) {
        const double* mm = &m[6 * s];
        const double xs = mm[0] * x + mm[1] * y + mm[2], ys = mm[3] * x + mm[4] * y + mm[5];
        for (int64_t j = 0; j < h; ++j)
          for (int64_t i = 0; i < w; ++i) {
            const double wt = hat(xs - i) * hat(ys - j);
            if (wt == 0) continue;
            for (int64_t ch = 0; ch < c; ++ch) {
              const int64_t sample = ((s * c + ch) * h + y) * w + x;  // output pixel of W
              const int64_t tap = ((s * c + ch) * h + j) * w + i;     // input pixel of W
              if (transpose) {
                out[tap] += wt * src[sample];
              } else {
                out[sample] += wt * src[tap];
              }
            }
          }
      }
  return out;
}

// out = W img.
inline std::vector<double> warp(const std::vector<double>& img, const std::vector<double>& m,
                                int64_t n, int64_t c, int64_t h, int64_t w) {
  return apply(img, m, n, c, h, w, false);
}

// out = W^T g.
inline std::vector<double> adjoint(const std::vector<double>& g, const std::vector<double>& m,
                                   int64_t n, int64_t c, int64_t h, int64_t w) {
  return apply(g, m, n, c, h, w, true);
}

// [n,1,h,w]: 1 where the sample point lies in [0, w-1] x [0, h-1].
inline std::vector<double> valid(const std::vector<double>& m, int64_t n, int64_t h, int64_t w) {
  std::vector<double> out(n * h * w);
  for (int64_t s = 0; s < n; ++s)
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x) {
        const double* mm = &m[6 * s];
        const double xs = mm[0] * x + mm[1] * y + mm[2], ys = mm[3] * x + mm[4] * y + mm[5];
        out[(s * h + y) * w + x] = xs >= 0 && xs <= w - 1 && ys >= 0 && ys <= h - 1 ? 1.0 : 0.0;
      }
  return out;
}

// The regularization loss of engine/backend.h (RegKind numbering: 0 stability, 1 trans-inv,
// 2 jacobian, 3 augment) and its gradients, straight from the formulas.
struct Loss {
  double value;
  std::vector<double> grad_fx, grad_ftx;
};

inline Loss reg_loss(int kind, const std::vector<double>& fx, const std::vector<double>& ftx,
                     const std::vector<double>& y, const std::vector<double>& m,
                     const std::vector<double>& mask, int64_t n, int64_t c, int64_t h, int64_t w) {
  const int64_t hw = h * w;
  std::vector<double> warped;
  if (kind == 1) warped = warp(fx, m, n, c, h, w);
  if (kind >= 2) warped = warp(y, m, n, c, h, w);
  double mask_sum = 0;
  for (int64_t i = 0; i < n * hw; ++i) mask_sum += mask.empty() ? 1.0 : mask[i];
  const double denom = std::max(1.0, c * mask_sum);
  Loss out{0.0, std::vector<double>(fx.size(), 0.0), std::vector<double>(fx.size(), 0.0)};
  std::vector<double> g(fx.size());
  for (int64_t k = 0; k < n * c * hw; ++k) {
    const int64_t s = k / (c * hw), pix = k % hw;
    const double wt = mask.empty() ? 1.0 : mask[s * hw + pix];
    double d = 0;
    switch (kind) {
      case 0: d = fx[k] - ftx[k]; break;
      case 1: d = ftx[k] - warped[k]; break;
      case 2: d = (ftx[k] - warped[k]) - (fx[k] - y[k]); break;
      default: d = ftx[k] - warped[k]; break;
    }
    out.value += wt * d * d / denom;
    g[k] = 2 * wt * d / denom;
    switch (kind) {
      case 0: out.grad_fx[k] = g[k], out.grad_ftx[k] = -g[k]; break;
      case 1: out.grad_ftx[k] = g[k]; break;
      case 2: out.grad_fx[k] = -g[k], out.grad_ftx[k] = g[k]; break;
      default: out.grad_ftx[k] = g[k]; break;
    }
  }
  if (kind == 1) {
    out.grad_fx = adjoint(g, m, n, c, h, w);
    for (double& v : out.grad_fx) v = -v;
  }
  return out;
}

}  // namespace warp_reference
