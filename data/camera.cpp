#include "data/camera.h"

#include <algorithm>
#include <cmath>

#include "engine/tensor_ops.h"

namespace steady {
namespace {

struct ImageDims {
  int64_t n, c, plane;
};

ImageDims image_dims(const Tensor& t, const char* op) {
  STEADY_CHECK(t.defined() && (t.dim() == 3 || t.dim() == 4), op,
               ": expected an image [C,H,W] or a batch [N,C,H,W], got ",
               t.defined() ? t.str() : std::string("an undefined tensor"));
  STEADY_CHECK(t.device() == Device::CPU, op, ": expected a CPU tensor, got ", t.str());
  if (t.dim() == 3) return {1, t.size(0), t.size(1) * t.size(2)};
  return {t.size(0), t.size(1), t.size(2) * t.size(3)};
}

Tensor as_f32(const Tensor& t) { return t.dtype() == DType::F32 ? t : t.to(DType::F32); }

void append_max_channel(const Tensor& hdr, std::vector<float>& out) {
  ImageDims d = image_dims(hdr, "max_channel_percentile");
  Tensor f = as_f32(hdr);
  const float* p = f.data<float>();
  for (int64_t i = 0; i < d.n; ++i) {
    const float* img = p + i * d.c * d.plane;
    for (int64_t k = 0; k < d.plane; ++k) {
      float m = img[k];
      for (int64_t c = 1; c < d.c; ++c) m = std::max(m, img[c * d.plane + k]);
      out.push_back(m);
    }
  }
}

double percentile_of(std::vector<float>& v, double percentile) {
  STEADY_CHECK(!v.empty(), "max_channel_percentile: no pixels");
  STEADY_CHECK(percentile >= 0 && percentile <= 100, "max_channel_percentile: percentile ",
               percentile, " is outside [0, 100]");
  const double pos = percentile / 100.0 * static_cast<double>(v.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, v.size() - 1);
  std::nth_element(v.begin(), v.begin() + lo, v.end());
  const double a = v[lo];
  double b = a;
  if (hi != lo) b = *std::min_element(v.begin() + hi, v.end());  // the next order statistic
  return a + (b - a) * (pos - static_cast<double>(lo));
}

CameraParams draw_with(const std::vector<Tensor>& frames, Rng& rng, const CameraRanges& r) {
  STEADY_CHECK(r.bits >= 1 && r.bits <= 16, "sample_camera: bits ", r.bits, " outside [1, 16]");
  STEADY_CHECK(r.percentile_min <= r.percentile_max && r.noise_min <= r.noise_max &&
                   r.n_min <= r.n_max && r.a_min <= r.a_max,
               "sample_camera: a range has min > max");
  CameraParams p;
  if (r.use_percentile) {
    const double pct = rng.uniform(r.percentile_min, r.percentile_max);
    const double level = max_channel_percentile(frames, pct);
    p.percentile = pct;
    // An all-black image has no level to anchor; leave its exposure alone.
    p.exposure = level > 0 ? 1.0 / level : 1.0;
  } else {
    STEADY_CHECK(r.fixed_exposure > 0, "sample_camera: fixed_exposure must be > 0, got ",
                 r.fixed_exposure);
    p.exposure = r.fixed_exposure;
  }
  p.n = std::clamp(r.n_mean + r.n_std * rng.normal(), r.n_min, r.n_max);
  p.a = std::clamp(r.a_mean + r.a_std * rng.normal(), r.a_min, r.a_max);
  p.noise_std = rng.uniform(r.noise_min, r.noise_max);
  p.bits = r.bits;
  return p;
}

}  // namespace

double max_channel_percentile(const Tensor& hdr, double percentile) {
  std::vector<float> v;
  append_max_channel(hdr, v);
  return percentile_of(v, percentile);
}

double max_channel_percentile(const std::vector<Tensor>& frames, double percentile) {
  std::vector<float> v;
  for (const Tensor& f : frames) append_max_channel(f, v);
  return percentile_of(v, percentile);
}

CameraParams sample_camera(const Tensor& hdr, Rng& rng, const CameraRanges& r) {
  return draw_with({hdr}, rng, r);
}

CameraParams sample_camera(const std::vector<Tensor>& frames, Rng& rng, const CameraRanges& r) {
  STEADY_CHECK(!frames.empty(), "sample_camera: no frames");
  return draw_with(frames, rng, r);
}

double camera_curve(double x, double n, double a) {
  if (x <= 0) return 0.0;
  const double xn = std::pow(x, n);
  return (1.0 + a) * xn / (xn + a);
}

double camera_curve_inverse(double y, double n, double a) {
  if (y <= 0) return 0.0;
  if (y >= 1.0 + a) return INFINITY;
  // y (x^n + a) = (1 + a) x^n  =>  x^n = a y / (1 + a - y)
  return std::pow(a * y / (1.0 + a - y), 1.0 / n);
}

Tensor apply_camera(const Tensor& hdr, const CameraParams& p, Rng* noise_rng) {
  image_dims(hdr, "apply_camera");
  STEADY_CHECK(p.exposure > 0 && std::isfinite(p.exposure), "apply_camera: exposure must be > 0, got ",
               p.exposure);
  STEADY_CHECK(p.n > 0 && p.a > 0, "apply_camera: curve needs n > 0 and a > 0, got n=", p.n,
               " a=", p.a);
  STEADY_CHECK(p.bits >= 1 && p.bits <= 16, "apply_camera: bits ", p.bits, " outside [1, 16]");
  STEADY_CHECK(p.noise_std <= 0 || noise_rng != nullptr,
               "apply_camera: noise_std > 0 needs a random generator");
  Tensor src = as_f32(hdr);
  Tensor out = Tensor::empty(hdr.shape());
  const float* s = src.data<float>();
  float* o = out.data<float>();
  const double levels = std::ldexp(1.0, p.bits) - 1.0;
  for (int64_t i = 0; i < src.numel(); ++i) {
    double x = p.exposure * static_cast<double>(s[i]);
    if (p.noise_std > 0) x = std::max(0.0, x + p.noise_std * noise_rng->normal());
    double y = std::min(1.0, camera_curve(x, p.n, p.a));
    o[i] = static_cast<float>(std::round(y * levels) / levels);
  }
  return out;
}

CameraShot expose(const Tensor& scene, const CameraParams& p, Rng* noise_rng) {
  return {apply_camera(scene, p, noise_rng), scale(as_f32(scene), p.exposure)};
}

Tensor saturation_mask(const Tensor& x, double tau) {
  ImageDims d = image_dims(x, "saturation_mask");
  STEADY_CHECK(tau < 1.0, "saturation_mask: tau must be < 1, got ", tau);
  Tensor src = as_f32(x);
  Shape shape = x.dim() == 3 ? Shape{1, x.size(1), x.size(2)} : Shape{d.n, 1, x.size(2), x.size(3)};
  Tensor out = Tensor::empty(shape);
  const float* s = src.data<float>();
  float* o = out.data<float>();
  for (int64_t i = 0; i < d.n; ++i) {
    const float* img = s + i * d.c * d.plane;
    for (int64_t k = 0; k < d.plane; ++k) {
      double m = img[k];
      for (int64_t c = 1; c < d.c; ++c) m = std::max(m, static_cast<double>(img[c * d.plane + k]));
      o[i * d.plane + k] = static_cast<float>(std::min(1.0, std::max(0.0, m - tau) / (1.0 - tau)));
    }
  }
  return out;
}

double saturated_share(const Tensor& hdr, double threshold) {
  ImageDims d = image_dims(hdr, "saturated_share");
  Tensor src = as_f32(hdr);
  const float* s = src.data<float>();
  int64_t count = 0;
  for (int64_t i = 0; i < d.n; ++i) {
    const float* img = s + i * d.c * d.plane;
    for (int64_t k = 0; k < d.plane; ++k) {
      bool sat = false;
      for (int64_t c = 0; c < d.c && !sat; ++c) sat = img[c * d.plane + k] >= threshold;
      count += sat;
    }
  }
  return static_cast<double>(count) / static_cast<double>(d.n * d.plane);
}

}  // namespace steady
