// The virtual camera (docs/DESIGN.md, "Data"): turns a linear HDR image into the LDR image a camera
// would record, the input of HDR reconstruction. Following the authors' virtual camera
// (hdrcnn, training_code/virtualcamera):
//   1. exposure e: a random percentile p of the pixels' max-channel values maps to 1, so about
//      (100 - p)% of the pixels saturate. HDR ground truth for training is e * hdr (the network
//      works in the units where the clip point is 1).
//   2. optional Gaussian noise of standard deviation s added to e * hdr (clamped at 0).
//   3. camera curve f(x) = (1 + a) x^n / (x^n + a); f(1) = 1, so the clip point stays at 1.
//   4. clip to [0, 1] and quantize to 2^bits - 1 levels (8 bits by default).
// Parameter ranges (CameraRanges defaults) and where they come from:
//   p ~ U(90, 99) percent: 1-10% saturated pixels, the default share gen_procedural targets.
//       (The authors drew 85-95% of all channel values; we count pixels by their max channel.)
//   n ~ N(0.9, 0.1) clamped to [0.5, 1.5], a ~ N(0.6, 0.1) clamped to [0.1, 2.0]: the authors'
//       distributions (they clamp to [0.2, 2.5] and [0, 5]; a = 0 would make f constant).
//   s ~ U(noise_min, noise_max), default 0 (off); the authors used U(0, 0.01).
// Every random draw comes from the steady::Rng given, in a fixed order (p, n, a, s), so a seed
// gives the same camera. For video, draw once (sample_camera on all frames, which pools them
// for the percentile) and apply the same CameraParams to every frame.
#pragma once
#include <vector>

#include "engine/rng.h"
#include "engine/tensor.h"

namespace steady {

struct CameraParams {
  double exposure = 1.0;
  double percentile = 0.0;  // the drawn clip percentile p (0 where the exposure was fixed)
  double n = 0.9;
  double a = 0.6;
  double noise_std = 0.0;
  int bits = 8;
};

struct CameraRanges {
  bool use_percentile = true;  // false: exposure = fixed_exposure (no draw for p)
  double fixed_exposure = 1.0;
  double percentile_min = 90.0, percentile_max = 99.0;
  double n_mean = 0.9, n_std = 0.1, n_min = 0.5, n_max = 1.5;
  double a_mean = 0.6, a_std = 0.1, a_min = 0.1, a_max = 2.0;
  double noise_min = 0.0, noise_max = 0.0;
  int bits = 8;
};

// The value below which `percentile` percent of the pixels' max-channel values lie (linear
// interpolation between order statistics, numpy's default). hdr [C,H,W] or [N,C,H,W]; frames are
// pooled.
double max_channel_percentile(const Tensor& hdr, double percentile);
double max_channel_percentile(const std::vector<Tensor>& frames, double percentile);

// Draws one camera for an image, or one for a whole sequence (pooled percentile).
CameraParams sample_camera(const Tensor& hdr, Rng& rng, const CameraRanges& r = {});
CameraParams sample_camera(const std::vector<Tensor>& frames, Rng& rng, const CameraRanges& r = {});

// LDR image in [0,1], float32, same shape as hdr ([C,H,W] or [N,C,H,W], CPU). noise_rng is
// needed when p.noise_std > 0 (one normal per element, in memory order).
Tensor apply_camera(const Tensor& hdr, const CameraParams& p, Rng* noise_rng = nullptr);

// One exposure of a linear scene through the camera, the single place where the exposure is
// applied: exposed = e * scene (the reference both training and evaluation score against, in
// the units where the clip point is 1) and ldr = the camera's image of it (the network input).
struct CameraShot {
  Tensor ldr, exposed;
};
CameraShot expose(const Tensor& scene, const CameraParams& p, Rng* noise_rng = nullptr);

// f and its inverse on [0, 1] (the inverse of 1 is 1; of values above 1 + a, infinity).
double camera_curve(double x, double n, double a);
double camera_curve_inverse(double y, double n, double a);

// The HDR blend weight: alpha = min(1, max(0, max_c x - tau) / (1 - tau)). x [C,H,W] gives
// [1,H,W]; [N,C,H,W] gives [N,1,H,W]. CPU, float32 out.
Tensor saturation_mask(const Tensor& x, double tau = 0.95);

// Share of pixels whose max channel is >= threshold (the "saturated share" of an HDR image at
// exposure 1). [C,H,W] or [N,C,H,W].
double saturated_share(const Tensor& hdr, double threshold = 1.0);

}  // namespace steady
