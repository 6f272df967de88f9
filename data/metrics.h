// Evaluation metrics (docs/DESIGN.md, "Metrics"), all accumulated in double on the CPU. Frames are
// tensors [C,H,W] (float32 or float64); a sequence is a vector of frames of one shape.
//
// PSNR = 10 log10(peak^2 / MSE), the MSE over every element (or, with a mask, weighted by the
// mask: sum m (p - g)^2 / (C sum m), a mask [1,H,W] applying to all C channels). Over a sequence
// the squared errors are pooled (one MSE for all frames), not per-frame PSNRs averaged.
//   HDR convention (hdr_log + the saturation mask): PSNR is taken over the pixels the LDR input
//   saturates (saturation_mask(ldr) > 0, tau = 0.95), on log(max(v, 0) + 1/255) of prediction and
//   ground truth (the log domain the network predicts and the authors' loss uses), peak 1: so it
//   is -10 log10 of the mean squared log error. Linear HDR values have no natural peak.
//   Colorization: on the a and b channels of CIE Lab (the caller converts).
//
// Smoothness (Eq. 9-10): D(v) = sum_t sum_pixels |v_t - (G * v)_t|^2 with G a Gaussian along
// time, sigma = sigma_seconds * fps frames, taps -R..R with R = ceil(3 sigma), weights
// exp(-k^2 / (2 sigma^2)) normalized. At the sequence ends the kernel is cut to the frames that
// exist and renormalized over them (tests/data/smoothness.json's convention).
// S = sqrt(D(ground truth) / D(prediction)); S > 1: smoother than the ground truth.
//
// Warping error (Lai et al. 2018): for t >= 1, E_t = sum_valid sum_c (v_t(x) - v_{t-1}(x + d(x)))^2
// / (number of valid pixels), v_{t-1} sampled bilinearly; the sequence's error is the mean of E_t
// over the frames with any valid pixel. As in Lai et al.'s code the squared error is summed over
// channels and divided by the pixel count.
// flow[t] is [3,H,W]: channel 0 dx, channel 1 dy (pixels; pixel x of frame t was at x + d(x) in
// frame t-1: the backward flow), channel 2 validity (1: the point is visible in both frames and
// moves with one motion; 0: occluded, disoccluded, mixed or outside). flow[0] is not used.
// A pixel also counts only when x + d(x) lies inside [0, W-1] x [0, H-1].
//
// The protocol eval_video follows (tools/lib/evaluation.h runs it; docs/RESULTS.md shows what
// each choice does), and why:
// - HDR: S and PSNR over the saturated pixels only (the paper's Sec. 4.1, 4.3): elsewhere the
//   network's output is the input passed through (the blend of Eq. 1 of HDR-CNN), so whole-frame
//   S mostly measures the LDR input. The set is the pixels the LDR input saturates (max channel
//   > tau = 0.95, where the blend starts), widened for S to the union over the Gaussian's support
//   (frames t-R..t+R): D is a sum over each pixel's filtered time series, and a per-frame mask
//   counts the residual of a highlight moving into or out of a pixel only on the frames it is
//   saturated, on one side of the jump. The per-frame set and the set where the ground truth is
//   above the clip point are reported beside it. All in the log domain the network predicts.
// - Colorization: over a and b (Sec. 4.3), in ab/110.
// - One virtual camera per sequence (exposure percentile pooled over its frames), drawn from
//   the seed and the sequence's name, so sequences differ and a sequence scores the same in
//   every run, and applied once (data/camera.h, expose()): the network sees camera(e * scene),
//   as in training, and is scored against e * scene. (Before 2026-12-08 the evaluation exposed
//   twice, camera(e^2 * scene) against e * scene.)
// - Test sequences (data/procedural.h): features on smooth random paths, sometimes occluded by
//   beams, slow enough (motion_scale) that the high-pass leaves little of the true motion.
// - Reported over sequences as mean and standard deviation; the comparison that isolates a
//   regularizer is against plain fine-tuning with the same schedule, not against the baseline;
//   beside S, the transform-equivariance error ||f(T x) - T f(x)||^2 on held-out frames (what
//   trans-inv minimizes).
#pragma once
#include <deque>
#include <functional>
#include <vector>

#include "engine/tensor.h"

namespace steady {

// Pooled squared error: add frames, then read the MSE or PSNR.
class SquaredError {
 public:
  // pred, gt [C,H,W] (or any equal shape); mask undefined (all ones), [1,H,W] (all channels)
  // or the shape of pred.
  void add(const Tensor& pred, const Tensor& gt, const Tensor& mask = Tensor());
  double sum() const { return sum_; }
  double weight() const { return weight_; }  // elements counted (mask-weighted)
  double mse() const;                        // NaN when nothing was counted
  double psnr(double peak = 1.0) const;      // +inf when mse is 0, NaN when nothing counted

 private:
  double sum_ = 0, weight_ = 0;
};

double mse(const Tensor& pred, const Tensor& gt, const Tensor& mask = Tensor());
double psnr(const Tensor& pred, const Tensor& gt, double peak = 1.0, const Tensor& mask = Tensor());
double psnr(const std::vector<Tensor>& pred, const std::vector<Tensor>& gt, double peak = 1.0,
            const std::vector<Tensor>& masks = {});

// log(max(v, 0) + eps) elementwise, float32 out (the HDR PSNR domain).
constexpr double kHdrLogEps = 1.0 / 255.0;
Tensor hdr_log(const Tensor& hdr, double eps = kHdrLogEps);

// HDR PSNR by the convention above: pred_hdr, gt_hdr linear HDR [3,H,W] in the same units,
// ldr the camera's input frame [3,H,W]. Pool a sequence by calling add_hdr per frame.
void add_hdr_saturated(SquaredError& acc, const Tensor& pred_hdr, const Tensor& gt_hdr,
                       const Tensor& ldr);

// The normalized temporal Gaussian, taps -R..R (R = ceil(3 sigma)); sigma in frames.
std::vector<double> temporal_gaussian(double sigma_frames);

// The residual v_t - (G * v)_t of Eq. 9, streamed: frames are pushed one at a time and only the
// 2R+1 frames the filter spans are kept, so a sequence of any length costs a bounded window.
// The residual of frame t is handed to the sink (as doubles, the frame's layout) as soon as
// frame t+R is in, or at finish() for the last R frames (the kernel cut to the frames that exist,
// as above). Frames are kept in the first frame's dtype (float32 or float64).
class TemporalHighpass {
 public:
  using Sink = std::function<void(int64_t t, const std::vector<double>& residual)>;
  TemporalHighpass(double fps, Sink sink, double sigma_seconds = 0.15);
  void push(const Tensor& frame);
  void finish();
  int radius() const { return r_; }
  int64_t frames() const { return pushed_; }

 private:
  void emit(int64_t t, int64_t known_frames);
  std::vector<double> w_;
  int r_ = 0;
  Sink sink_;
  std::deque<Tensor> window_;  // frames first_..pushed_-1
  int64_t first_ = 0, pushed_ = 0, emitted_ = 0;
  std::vector<double> residual_;
};

// D(v) of Eq. 9 for frames of one shape.
double temporal_highpass_energy(const std::vector<Tensor>& frames, double fps,
                                double sigma_seconds = 0.15);

struct Smoothness {
  double energy_gt = 0, energy_pred = 0;
  double s = 0;  // sqrt(energy_gt / energy_pred); +inf when energy_pred is 0 and energy_gt > 0
};
Smoothness smoothness(const std::vector<Tensor>& gt, const std::vector<Tensor>& pred, double fps,
                      double sigma_seconds = 0.15);

// frames[t-1] sampled at x + d(x) of flow[t]: [C,H,W] float64 (0 where not possible), and
// the pixels where it was possible (flow valid, inside the image) in valid_out [1,H,W].
Tensor warp_by_flow(const Tensor& prev, const Tensor& flow, Tensor* valid_out = nullptr);

struct WarpingError {
  double error = 0;        // mean over the frames counted of E_t
  int64_t frames = 0;      // frames with at least one valid pixel
  double valid_share = 0;  // valid pixels / all pixels of frames 1..T-1
};
WarpingError warping_error(const std::vector<Tensor>& frames, const std::vector<Tensor>& flow);

// Every measure of one video stream, accumulated frame by frame in bounded memory (a row of
// eval_video): the high-pass energy D of Eq. 9 over all elements and under each mask the caller
// supplies, the flicker (mean |v_t - v_{t-1}| over all elements, per frame and pooled), the
// warping error where the motion is known, and against a reference the pooled squared error
// (PSNR) and the per-frame mean squared error.
// masks(t) gives frame t's binary masks [1,H,W] (each applying to all channels); it is asked
// when frame t's residual is ready, up to R frames after frame t was pushed, so the caller
// keeps a window of masks (and can widen them over the Gaussian's support).
class StreamScore {
 public:
  using Masks = std::function<std::vector<Tensor>(int64_t t)>;
  StreamScore(double fps, Masks masks, double sigma_seconds = 0.15);
  StreamScore(const StreamScore&) = delete;  // the filter's sink points back at this object
  StreamScore& operator=(const StreamScore&) = delete;
  // frame [C,H,W] in the metric domain; ref: the reference's frame or undefined; error_mask
  // [1,H,W] weights the squared error (undefined: all); flow [3,H,W] (data/metrics.h) or undefined.
  void push(const Tensor& frame, const Tensor& ref = Tensor(), const Tensor& error_mask = Tensor(),
            const Tensor& flow = Tensor());
  void finish();

  std::vector<double> energy, counted;  // [0] all elements, [1 + j] under mask j
  double rms_highpass(size_t j) const;  // sqrt(energy / counted), NaN when nothing counted
  double flicker() const;               // mean over t >= 1 of per_frame_flicker
  double warping_error() const;         // NaN without motion
  SquaredError error;                   // against the reference
  std::vector<double> per_frame_error;  // NaN where nothing was counted or no reference
  std::vector<double> per_frame_flicker;  // frame 0: NaN

 private:
  Masks masks_;
  TemporalHighpass highpass_;
  Tensor prev_;
  std::vector<double> prev_host_;  // prev_ in double, converted once
  double warp_sum_ = 0;
  int64_t warp_frames_ = 0;
};

}  // namespace steady
