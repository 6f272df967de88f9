#include "losses/transform.h"

#include <cmath>
#include <vector>

namespace steady {

AffineMatrix transform_matrix(const TransformParams& p, int64_t width, int64_t height) {
  const double deg = M_PI / 180.0;
  double a = (p.hx_deg - p.r_deg) * deg, b = std::cos(p.hx_deg * deg);
  double c = (p.hy_deg + p.r_deg) * deg, d = std::cos(p.hy_deg * deg);
  double m1 = p.z * std::cos(a) / b, m2 = p.z * std::sin(a) / b;
  double m4 = p.z * std::sin(c) / d, m5 = p.z * std::cos(c) / d;
  double cx = static_cast<double>(width) / 2, cy = static_cast<double>(height) / 2;
  // x_in = m1 (x - cx + tx) + m2 (y - cy + ty) + cx, likewise y_in: expand the constants.
  return {m1, m2, m1 * (p.tx - cx) + m2 * (p.ty - cy) + cx,
          m4, m5, m4 * (p.tx - cx) + m5 * (p.ty - cy) + cy};
}

TransformParams sample_transform(double s, Rng& rng) {
  TransformParams p;
  p.tx = rng.uniform(-2 * s, 2 * s);
  p.ty = rng.uniform(-2 * s, 2 * s);
  p.r_deg = rng.uniform(-s, s);
  p.z = rng.uniform(1 - 0.03 * s, 1 + 0.03 * s);
  p.hx_deg = rng.uniform(-s, s);
  p.hy_deg = rng.uniform(-s, s);
  return p;
}

Tensor transform_matrices(const std::vector<TransformParams>& params, int64_t width,
                          int64_t height, Device device, DType dtype) {
  std::vector<double> m;
  m.reserve(params.size() * 6);
  for (const TransformParams& p : params)
    for (double v : transform_matrix(p, width, height)) m.push_back(v);
  return Tensor::from_vector(m, {static_cast<int64_t>(params.size()), 6}, device, dtype);
}

Tensor random_transform_matrices(int64_t n, int64_t height, int64_t width, double scale, Rng& rng,
                                 Device device, DType dtype) {
  std::vector<TransformParams> params;
  params.reserve(n);
  for (int64_t i = 0; i < n; ++i) params.push_back(sample_transform(scale, rng));
  return transform_matrices(params, width, height, device, dtype);
}

}  // namespace steady
