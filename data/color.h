// Color science for colorization (docs/DESIGN.md, "Models" and "Metrics"): sRGB <-> linear RGB <-> CIE XYZ
// <-> CIE 1976 L*a*b*, D65 white, computed in double whatever the tensor's dtype.
//
//   sRGB transfer (IEC 61966-2-1): linear = v / 12.92 for v <= 0.04045, else
//       ((v + 0.055) / 1.055)^2.4; its inverse 12.92 l for l <= 0.0031308, else
//       1.055 l^(1/2.4) - 0.055. Both are odd-extended below 0 (sign(v) f(|v|)) so values a
//       little out of gamut (predicted colours, bilinear overshoot) round-trip instead of NaN.
//   linear RGB -> XYZ: the sRGB / D65 matrix of Lindbloom (brucelindbloom.com, "RGB/XYZ
//       Matrices"); XYZ -> linear uses its exact inverse computed in double, so a round trip
//       is exact to ~1e-15, not to the 7 digits a printed inverse carries.
//   XYZ -> Lab (CIE 1976): the white (Xn, Yn, Zn) = M (1, 1, 1) = (0.95047, 1.0000001,
//       1.08883), so sRGB white is exactly a = b = 0. With eps = 216/24389 and
//       kappa = 24389/27: f(t) = cbrt(t) for t > eps, else (kappa t + 16) / 116;
//       L = 116 f(Y/Yn) - 16, a = 500 (f(X/Xn) - f(Y/Yn)), b = 200 (f(Y/Yn) - f(Z/Zn)).
//       The inverse: fy = (L + 16)/116, fx = fy + a/500, fz = fy - b/200;
//       xr = fx^3 if fx^3 > eps else (116 fx - 16)/kappa (zr likewise);
//       yr = fy^3 if L > kappa eps else L / kappa.
//
// Tensors are CPU images [3,H,W] or batches [N,3,H,W], channel order R,G,B (or X,Y,Z, or
// L,a,b), float32 or float64; the result has the input's dtype. Colorization's network tensors
// (docs/DESIGN.md, "Models"): input L/50 - 1 (in [-1, 1]), target (a, b)/110 (about [-1, 1]).
#pragma once
#include <vector>

#include "engine/tensor.h"

namespace steady {

// ---- per-value conversions (double)
double srgb_to_linear(double v);
double linear_to_srgb(double l);
void linear_to_xyz(const double rgb[3], double xyz[3]);
void xyz_to_linear(const double xyz[3], double rgb[3]);
void xyz_to_lab(const double xyz[3], double lab[3]);
void lab_to_xyz(const double lab[3], double xyz[3]);
void srgb_to_lab(const double srgb[3], double lab[3]);  // sRGB-encoded in, L*a*b* out
void lab_to_srgb(const double lab[3], double srgb[3]);
// The D65 white of the matrix, M (1, 1, 1).
void d65_white(double xyz[3]);

// ---- tensors: [3,H,W] or [N,3,H,W] (the transfer functions take any shape)
Tensor srgb_to_linear(const Tensor& srgb);
Tensor linear_to_srgb(const Tensor& linear);
Tensor linear_to_xyz(const Tensor& rgb);
Tensor xyz_to_linear(const Tensor& xyz);
Tensor xyz_to_lab(const Tensor& xyz);
Tensor lab_to_xyz(const Tensor& lab);
Tensor srgb_to_lab(const Tensor& srgb);
Tensor lab_to_srgb(const Tensor& lab);  // not clamped: out-of-gamut Lab gives values outside [0,1]

// ---- colorization
constexpr double kColorLScale = 50.0;    // network input  L / 50 - 1
constexpr double kColorAbScale = 110.0;  // network target (a, b) / 110

// srgb [3,H,W] or [N,3,H,W]; a 1-channel image ([1,H,W], [N,1,H,W]) is grey (R = G = B).
// Input: [1,H,W] / [N,1,H,W], L/50 - 1. Target: [2,H,W] / [N,2,H,W], (a, b)/110.
Tensor colorization_input(const Tensor& srgb);
Tensor colorization_target(const Tensor& srgb);
struct ColorizationPair {
  Tensor input, target;
};
ColorizationPair colorization_pair(const Tensor& srgb);  // both from one Lab conversion

// The network's output back to an image: input (L/50 - 1) [1,H,W] or [N,1,H,W] and predicted
// ab/110 [2,H,W] or [N,2,H,W] of the same size -> sRGB [3,H,W] / [N,3,H,W], clamped to [0,1].
Tensor colorization_to_srgb(const Tensor& input_l, const Tensor& ab);

// Lab L* of an sRGB image: [1,H,W] / [N,1,H,W] in [0, 100].
Tensor lab_lightness(const Tensor& srgb);
// The neutral grey of the same L* (a = b = 0) as sRGB [3,H,W] / [N,3,H,W]: what a grayscale
// clip looks like, and exactly what colorization_input sees.
Tensor grayscale_srgb(const Tensor& srgb);
// A color clip turned into the colorization network's inputs, frame by frame:
// each frame [3,H,W] (or [1,H,W]) -> [1,H,W] L/50 - 1.
std::vector<Tensor> grayscale_clip(const std::vector<Tensor>& frames);

}  // namespace steady
