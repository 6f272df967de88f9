#include "data/color.h"

#include <algorithm>
#include <cmath>
#include <type_traits>

namespace steady {
namespace {

constexpr double kEps = 216.0 / 24389.0;   // (6/29)^3
constexpr double kKappa = 24389.0 / 27.0;  // (29/3)^3

// sRGB (linear, D65) -> XYZ, Lindbloom's matrix.
constexpr double kRgbToXyz[3][3] = {{0.4124564, 0.3575761, 0.1804375},
                                    {0.2126729, 0.7151522, 0.0721750},
                                    {0.0193339, 0.1191920, 0.9503041}};

struct Inverse3 {
  double m[3][3];
  Inverse3() {
    const auto& a = kRgbToXyz;
    const double det = a[0][0] * (a[1][1] * a[2][2] - a[1][2] * a[2][1]) -
                       a[0][1] * (a[1][0] * a[2][2] - a[1][2] * a[2][0]) +
                       a[0][2] * (a[1][0] * a[2][1] - a[1][1] * a[2][0]);
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) {
        // adjugate: cofactor of a[j][i]
        const int r0 = (j + 1) % 3, r1 = (j + 2) % 3, c0 = (i + 1) % 3, c1 = (i + 2) % 3;
        m[i][j] = (a[r0][c0] * a[r1][c1] - a[r0][c1] * a[r1][c0]) / det;
      }
  }
};
const Inverse3& xyz_to_rgb_matrix() {
  static const Inverse3 inv;
  return inv;
}

double lab_f(double t) { return t > kEps ? std::cbrt(t) : (kKappa * t + 16.0) / 116.0; }
double lab_f_inv(double f) {
  const double f3 = f * f * f;
  return f3 > kEps ? f3 : (116.0 * f - 16.0) / kKappa;
}

// ---- tensor plumbing

// [3,H,W] or [N,3,H,W] (channels = expected C; 0: 1 or 3 allowed) -> batch count and plane.
struct ImageDims {
  int64_t n = 1, c = 3, plane = 0;
  bool batched = false;
};

ImageDims image_layout(const char* op, const Tensor& t, std::initializer_list<int64_t> channels) {
  STEADY_CHECK(t.defined(), op, ": undefined tensor");
  STEADY_CHECK(t.device() == Device::CPU, op, ": expects a CPU tensor, got ", t.str());
  STEADY_CHECK(t.dim() == 3 || t.dim() == 4, op, ": expects [C,H,W] or [N,C,H,W], got ", t.str());
  ImageDims l;
  l.batched = t.dim() == 4;
  l.n = l.batched ? t.size(0) : 1;
  l.c = t.size(-3);
  l.plane = t.size(-2) * t.size(-1);
  bool ok = false;
  std::string allowed;
  for (int64_t c : channels) {
    ok = ok || l.c == c;
    allowed += (allowed.empty() ? "" : " or ") + std::to_string(c);
  }
  STEADY_CHECK(ok, op, ": expects ", allowed, " channels, got ", t.str());
  return l;
}

Shape with_channels(const Tensor& t, int64_t c) {
  Shape s = t.shape();
  s[s.size() - 3] = c;
  return s;
}

// out[n, 0..2, k] = fn(in[n, 0..2, k]) for every pixel; a 1-channel input is read as (v, v, v).
// fn(b, k, v) for pixel k of sample b of an image with in_c (1 or 3) channels, v its three
// values in double (grey repeated).
template <class T, class Fn>
void for_each_pixel(const T* in, int64_t in_c, const ImageDims& l, Fn fn) {
  // Two loops, not one over n * plane split with / and %: a 64-bit division per pixel cost as
  // much as one of the pixel's pow calls (the colorization loader converts every crop).
  const int64_t total = l.n * l.plane;
#pragma omp parallel for collapse(2) schedule(static) if (total > 65536)
  for (int64_t b = 0; b < l.n; ++b)
    for (int64_t k = 0; k < l.plane; ++k) {
      const T* src = in + b * in_c * l.plane + k;
      double v[3];
      for (int c = 0; c < 3; ++c) v[c] = static_cast<double>(src[(in_c == 1 ? 0 : c) * l.plane]);
      fn(b, k, v);
    }
}

template <class T, class Fn>
void map_pixels(const T* in, int64_t in_c, T* out, const ImageDims& l, Fn fn) {
  for_each_pixel(in, in_c, l, [&](int64_t b, int64_t k, const double* v) {
    double r[3];
    fn(v, r);
    T* dst = out + b * 3 * l.plane + k;
    for (int c = 0; c < 3; ++c) dst[c * l.plane] = static_cast<T>(r[c]);
  });
}

template <class Fn>
Tensor map3(const char* op, const Tensor& in, Fn fn) {
  const ImageDims l = image_layout(op, in, {3});
  Tensor out = Tensor::empty(in.shape(), Device::CPU, in.dtype());
  if (in.dtype() == DType::F64)
    map_pixels(in.data<double>(), 3, out.data<double>(), l, fn);
  else
    map_pixels(in.data<float>(), 3, out.data<float>(), l, fn);
  return out;
}

template <class T, class Fn>
void map_values(const T* s, T* o, int64_t n, Fn fn) {
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) o[i] = static_cast<T>(fn(static_cast<double>(s[i])));
}

template <class Fn>
Tensor map_elements(const char* op, const Tensor& in, Fn fn) {
  STEADY_CHECK(in.defined() && in.device() == Device::CPU, op, ": expects a CPU tensor, got ",
               in.defined() ? in.str() : std::string("an undefined tensor"));
  Tensor out = Tensor::empty(in.shape(), Device::CPU, in.dtype());
  if (in.dtype() == DType::F64)
    map_values(in.data<double>(), out.data<double>(), in.numel(), fn);
  else
    map_values(in.data<float>(), out.data<float>(), in.numel(), fn);
  return out;
}

// emit(b, k, lab): L*a*b* of every pixel of an sRGB (or grey) image.
template <class T, class Emit>
void lab_of_pixels(const T* in, int64_t in_c, const ImageDims& l, Emit emit) {
  for_each_pixel(in, in_c, l, [&](int64_t b, int64_t k, const double* v) {
    double lab[3];
    srgb_to_lab(v, lab);
    emit(b, k, lab);
  });
}

// Writes (L/50 - 1) into `input` and/or (a, b)/110 into `target` (either may be undefined).
void colorization_tensors(const char* op, const Tensor& srgb, Tensor* input, Tensor* target) {
  const ImageDims l = image_layout(op, srgb, {1, 3});
  const DType dt = srgb.dtype();
  if (input) *input = Tensor::empty(with_channels(srgb, 1), Device::CPU, dt);
  if (target) *target = Tensor::empty(with_channels(srgb, 2), Device::CPU, dt);
  auto run = [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    T* in_p = input ? input->data<T>() : nullptr;
    T* tg_p = target ? target->data<T>() : nullptr;
    lab_of_pixels(srgb.data<T>(), l.c, l, [&](int64_t b, int64_t k, const double* lab) {
      if (in_p) in_p[b * l.plane + k] = static_cast<T>(lab[0] / kColorLScale - 1.0);
      if (tg_p) {
        tg_p[(b * 2 + 0) * l.plane + k] = static_cast<T>(lab[1] / kColorAbScale);
        tg_p[(b * 2 + 1) * l.plane + k] = static_cast<T>(lab[2] / kColorAbScale);
      }
    });
  };
  if (dt == DType::F64)
    run(static_cast<double*>(nullptr));
  else
    run(static_cast<float*>(nullptr));
}

}  // namespace

// ------------------------------------------------------------------------------- per value

double srgb_to_linear(double v) {
  const double a = std::fabs(v);
  const double l = a <= 0.04045 ? a / 12.92 : std::pow((a + 0.055) / 1.055, 2.4);
  return std::copysign(l, v);
}

double linear_to_srgb(double l) {
  const double a = std::fabs(l);
  const double v = a <= 0.0031308 ? 12.92 * a : 1.055 * std::pow(a, 1.0 / 2.4) - 0.055;
  return std::copysign(v, l);
}

void d65_white(double xyz[3]) {
  for (int i = 0; i < 3; ++i) xyz[i] = kRgbToXyz[i][0] + kRgbToXyz[i][1] + kRgbToXyz[i][2];
}

void linear_to_xyz(const double rgb[3], double xyz[3]) {
  double r[3];
  for (int i = 0; i < 3; ++i)
    r[i] = kRgbToXyz[i][0] * rgb[0] + kRgbToXyz[i][1] * rgb[1] + kRgbToXyz[i][2] * rgb[2];
  for (int i = 0; i < 3; ++i) xyz[i] = r[i];
}

void xyz_to_linear(const double xyz[3], double rgb[3]) {
  const auto& m = xyz_to_rgb_matrix().m;
  double r[3];
  for (int i = 0; i < 3; ++i) r[i] = m[i][0] * xyz[0] + m[i][1] * xyz[1] + m[i][2] * xyz[2];
  for (int i = 0; i < 3; ++i) rgb[i] = r[i];
}

void xyz_to_lab(const double xyz[3], double lab[3]) {
  double w[3];
  d65_white(w);
  const double fx = lab_f(xyz[0] / w[0]), fy = lab_f(xyz[1] / w[1]), fz = lab_f(xyz[2] / w[2]);
  lab[0] = 116.0 * fy - 16.0;
  lab[1] = 500.0 * (fx - fy);
  lab[2] = 200.0 * (fy - fz);
}

void lab_to_xyz(const double lab[3], double xyz[3]) {
  double w[3];
  d65_white(w);
  const double fy = (lab[0] + 16.0) / 116.0;
  const double fx = fy + lab[1] / 500.0, fz = fy - lab[2] / 200.0;
  const double yr = lab[0] > kKappa * kEps ? fy * fy * fy : lab[0] / kKappa;
  xyz[0] = lab_f_inv(fx) * w[0];
  xyz[1] = yr * w[1];
  xyz[2] = lab_f_inv(fz) * w[2];
}

void srgb_to_lab(const double srgb[3], double lab[3]) {
  double lin[3], xyz[3];
  for (int c = 0; c < 3; ++c) lin[c] = srgb_to_linear(srgb[c]);
  linear_to_xyz(lin, xyz);
  xyz_to_lab(xyz, lab);
}

void lab_to_srgb(const double lab[3], double srgb[3]) {
  double xyz[3], lin[3];
  lab_to_xyz(lab, xyz);
  xyz_to_linear(xyz, lin);
  for (int c = 0; c < 3; ++c) srgb[c] = linear_to_srgb(lin[c]);
}

// ------------------------------------------------------------------------------- tensors

Tensor srgb_to_linear(const Tensor& srgb) {
  return map_elements("srgb_to_linear", srgb, [](double v) { return srgb_to_linear(v); });
}
Tensor linear_to_srgb(const Tensor& linear) {
  return map_elements("linear_to_srgb", linear, [](double v) { return linear_to_srgb(v); });
}
// Each per-pixel conversion of three channels above, lifted to [3, H, W] / [N, 3, H, W] tensors.
#define STEADY_PIXEL_CONVERSION(name) \
  Tensor name(const Tensor& t) {     \
    return map3(#name, t, [](const double* v, double* r) { name(v, r); }); \
  }
STEADY_PIXEL_CONVERSION(linear_to_xyz)
STEADY_PIXEL_CONVERSION(xyz_to_linear)
STEADY_PIXEL_CONVERSION(xyz_to_lab)
STEADY_PIXEL_CONVERSION(lab_to_xyz)
STEADY_PIXEL_CONVERSION(srgb_to_lab)
STEADY_PIXEL_CONVERSION(lab_to_srgb)
#undef STEADY_PIXEL_CONVERSION

// ------------------------------------------------------------------------------- colorization

Tensor colorization_input(const Tensor& srgb) {
  Tensor in;
  colorization_tensors("colorization_input", srgb, &in, nullptr);
  return in;
}

Tensor colorization_target(const Tensor& srgb) {
  Tensor tg;
  colorization_tensors("colorization_target", srgb, nullptr, &tg);
  return tg;
}

ColorizationPair colorization_pair(const Tensor& srgb) {
  ColorizationPair p;
  colorization_tensors("colorization_pair", srgb, &p.input, &p.target);
  return p;
}

Tensor colorization_to_srgb(const Tensor& input_l, const Tensor& ab) {
  const ImageDims li = image_layout("colorization_to_srgb (L input)", input_l, {1});
  const ImageDims la = image_layout("colorization_to_srgb (ab)", ab, {2});
  STEADY_CHECK(input_l.dim() == ab.dim() && li.n == la.n && input_l.size(-1) == ab.size(-1) &&
                   input_l.size(-2) == ab.size(-2),
               "colorization_to_srgb: L input ", input_l.str(), " and ab ", ab.str(),
               " differ in batch or size");
  STEADY_CHECK(input_l.dtype() == ab.dtype(), "colorization_to_srgb: L input ", input_l.str(),
               " and ab ", ab.str(), " differ in dtype");
  Tensor out = Tensor::empty(with_channels(input_l, 3), Device::CPU, input_l.dtype());
  auto run = [&](const auto* lp, const auto* abp, auto* o) {
    using T = std::remove_const_t<std::remove_pointer_t<decltype(lp)>>;
    const int64_t total = li.n * li.plane, plane = li.plane;
#pragma omp parallel for schedule(static) if (total > 65536)
    for (int64_t q = 0; q < total; ++q) {
      const int64_t b = q / plane, k = q % plane;
      const double lab[3] = {(static_cast<double>(lp[b * plane + k]) + 1.0) * kColorLScale,
                             static_cast<double>(abp[(b * 2 + 0) * plane + k]) * kColorAbScale,
                             static_cast<double>(abp[(b * 2 + 1) * plane + k]) * kColorAbScale};
      double rgb[3];
      lab_to_srgb(lab, rgb);
      for (int c = 0; c < 3; ++c) o[(b * 3 + c) * plane + k] = static_cast<T>(std::clamp(rgb[c], 0.0, 1.0));
    }
  };
  if (input_l.dtype() == DType::F64)
    run(input_l.data<double>(), ab.data<double>(), out.data<double>());
  else
    run(input_l.data<float>(), ab.data<float>(), out.data<float>());
  return out;
}

Tensor lab_lightness(const Tensor& srgb) {
  const ImageDims l = image_layout("lab_lightness", srgb, {1, 3});
  Tensor out = Tensor::empty(with_channels(srgb, 1), Device::CPU, srgb.dtype());
  auto run = [&](const auto* in, auto* o) {
    using T = std::remove_pointer_t<decltype(o)>;
    lab_of_pixels(in, l.c, l, [&](int64_t b, int64_t k, const double* lab) {
      o[b * l.plane + k] = static_cast<T>(lab[0]);
    });
  };
  if (srgb.dtype() == DType::F64)
    run(srgb.data<double>(), out.data<double>());
  else
    run(srgb.data<float>(), out.data<float>());
  return out;
}

Tensor grayscale_srgb(const Tensor& srgb) {
  const ImageDims l = image_layout("grayscale_srgb", srgb, {1, 3});
  Tensor out = Tensor::empty(with_channels(srgb, 3), Device::CPU, srgb.dtype());
  auto run = [&](const auto* in, auto* o) {
    map_pixels(in, l.c, o, l, [](const double* v, double* r) {
      double lab[3];
      srgb_to_lab(v, lab);
      lab[1] = lab[2] = 0.0;
      lab_to_srgb(lab, r);
      // a = b = 0 is the white's chromaticity, so R = G = B up to rounding; make it exact.
      r[0] = r[1] = r[2] = std::clamp(r[1], 0.0, 1.0);
    });
  };
  if (srgb.dtype() == DType::F64)
    run(srgb.data<double>(), out.data<double>());
  else
    run(srgb.data<float>(), out.data<float>());
  return out;
}

std::vector<Tensor> grayscale_clip(const std::vector<Tensor>& frames) {
  std::vector<Tensor> out;
  out.reserve(frames.size());
  for (const Tensor& f : frames) {
    STEADY_CHECK(f.defined() && f.dim() == 3, "grayscale_clip: frame ", out.size(),
                 " must be [C,H,W], got ", f.defined() ? f.str() : std::string("undefined"));
    out.push_back(colorization_input(f));
  }
  return out;
}

}  // namespace steady
