#include "data/metrics.h"

#include <cmath>
#include <limits>

#include "data/camera.h"

namespace steady {
namespace {

void check_cpu(const char* op, const char* what, const Tensor& t) {
  STEADY_CHECK(t.defined(), op, ": ", what, " is undefined");
  STEADY_CHECK(t.device() == Device::CPU, op, ": ", what, " must be on the CPU, got ", t.str());
}

void check_frames(const char* op, const std::vector<Tensor>& frames) {
  STEADY_CHECK(!frames.empty(), op, ": the sequence has no frames");
  for (size_t t = 0; t < frames.size(); ++t) {
    check_cpu(op, "a frame", frames[t]);
    STEADY_CHECK(frames[t].shape() == frames[0].shape(), op, ": frame ", t, " is ",
                 frames[t].str(), " but frame 0 is ", frames[0].str());
  }
}

}  // namespace

// ------------------------------------------------------------------------------------ PSNR

void SquaredError::add(const Tensor& pred, const Tensor& gt, const Tensor& mask) {
  check_cpu("psnr", "prediction", pred);
  check_cpu("psnr", "ground truth", gt);
  check_same_shape("psnr", pred, gt);
  const std::vector<double> p = pred.to_host(), g = gt.to_host();
  if (!mask.defined()) {
    for (size_t i = 0; i < p.size(); ++i) sum_ += (p[i] - g[i]) * (p[i] - g[i]);
    weight_ += static_cast<double>(p.size());
    return;
  }
  check_cpu("psnr", "mask", mask);
  const std::vector<double> m = mask.to_host();
  if (mask.shape() == pred.shape()) {
    for (size_t i = 0; i < p.size(); ++i) {
      sum_ += m[i] * (p[i] - g[i]) * (p[i] - g[i]);
      weight_ += m[i];
    }
    return;
  }
  // A one-channel mask for all channels: [1,H,W] for [C,H,W], [N,1,H,W] for [N,C,H,W].
  STEADY_CHECK(pred.dim() >= 3 && mask.dim() == pred.dim(), "psnr: mask ", mask.str(),
               " does not fit prediction ", pred.str());
  Shape expect = pred.shape();
  expect[expect.size() - 3] = 1;
  STEADY_CHECK(mask.shape() == expect, "psnr: mask ", mask.str(), " does not fit prediction ",
               pred.str(), " (expected ", shape_str(expect), " or the prediction's shape)");
  const int64_t c_n = pred.size(-3), plane = pred.size(-2) * pred.size(-1);
  const int64_t outer = pred.numel() / (c_n * plane);
  for (int64_t n = 0; n < outer; ++n)
    for (int64_t c = 0; c < c_n; ++c)
      for (int64_t k = 0; k < plane; ++k) {
        const size_t i = static_cast<size_t>((n * c_n + c) * plane + k);
        const double w = m[static_cast<size_t>(n * plane + k)];
        sum_ += w * (p[i] - g[i]) * (p[i] - g[i]);
        weight_ += w;
      }
}

double SquaredError::mse() const {
  return weight_ > 0 ? sum_ / weight_ : std::numeric_limits<double>::quiet_NaN();
}

double SquaredError::psnr(double peak) const {
  const double e = mse();
  if (std::isnan(e)) return e;
  if (e == 0) return std::numeric_limits<double>::infinity();
  return 10.0 * std::log10(peak * peak / e);
}

double mse(const Tensor& pred, const Tensor& gt, const Tensor& mask) {
  SquaredError acc;
  acc.add(pred, gt, mask);
  return acc.mse();
}

double psnr(const Tensor& pred, const Tensor& gt, double peak, const Tensor& mask) {
  SquaredError acc;
  acc.add(pred, gt, mask);
  return acc.psnr(peak);
}

double psnr(const std::vector<Tensor>& pred, const std::vector<Tensor>& gt, double peak,
            const std::vector<Tensor>& masks) {
  STEADY_CHECK(pred.size() == gt.size(), "psnr: ", pred.size(), " predicted frames but ",
               gt.size(), " ground-truth frames");
  STEADY_CHECK(masks.empty() || masks.size() == pred.size(), "psnr: ", masks.size(),
               " masks for ", pred.size(), " frames");
  SquaredError acc;
  for (size_t t = 0; t < pred.size(); ++t) acc.add(pred[t], gt[t], masks.empty() ? Tensor() : masks[t]);
  return acc.psnr(peak);
}

Tensor hdr_log(const Tensor& hdr, double eps) {
  check_cpu("hdr_log", "image", hdr);
  const std::vector<double> v = hdr.to_host();
  Tensor out = Tensor::empty(hdr.shape());
  float* o = out.data<float>();
  for (size_t i = 0; i < v.size(); ++i) o[i] = static_cast<float>(std::log(std::max(v[i], 0.0) + eps));
  return out;
}

void add_hdr_saturated(SquaredError& acc, const Tensor& pred_hdr, const Tensor& gt_hdr,
                       const Tensor& ldr) {
  check_cpu("hdr psnr", "LDR input", ldr);
  STEADY_CHECK(ldr.dim() == pred_hdr.dim() && ldr.size(-1) == pred_hdr.size(-1) &&
                   ldr.size(-2) == pred_hdr.size(-2),
               "hdr psnr: LDR input ", ldr.str(), " does not match prediction ", pred_hdr.str());
  Tensor alpha = saturation_mask(ldr);
  float* a = alpha.data<float>();
  for (int64_t i = 0; i < alpha.numel(); ++i) a[i] = a[i] > 0.f ? 1.f : 0.f;
  acc.add(hdr_log(pred_hdr), hdr_log(gt_hdr), alpha);
}

// ------------------------------------------------------------------------------ smoothness

std::vector<double> temporal_gaussian(double sigma_frames) {
  STEADY_CHECK(sigma_frames > 0 && std::isfinite(sigma_frames),
               "smoothness: the temporal sigma must be > 0 frames, got ", sigma_frames);
  const int r = static_cast<int>(std::ceil(3.0 * sigma_frames));
  std::vector<double> w(2 * r + 1);
  double total = 0;
  for (int k = -r; k <= r; ++k) total += w[k + r] = std::exp(-0.5 * k * k / (sigma_frames * sigma_frames));
  for (double& x : w) x /= total;
  return w;
}

TemporalHighpass::TemporalHighpass(double fps, Sink sink, double sigma_seconds)
    : sink_(std::move(sink)) {
  STEADY_CHECK(fps > 0 && std::isfinite(fps), "smoothness: fps must be > 0, got ", fps);
  w_ = temporal_gaussian(sigma_seconds * fps);
  r_ = static_cast<int>(w_.size() / 2);
}

void TemporalHighpass::push(const Tensor& frame) {
  check_cpu("smoothness", "a frame", frame);
  if (!window_.empty())
    STEADY_CHECK(frame.shape() == window_.front().shape(), "smoothness: frame ", pushed_, " is ",
                 frame.str(), " but frame ", first_, " is ", window_.front().str());
  const DType dtype = window_.empty() ? (frame.dtype() == DType::F32 ? DType::F32 : DType::F64)
                                      : window_.front().dtype();
  window_.push_back(frame.dtype() == dtype ? frame : frame.to(dtype));
  ++pushed_;
  // Frame t's residual needs frames up to t + R.
  while (emitted_ + r_ < pushed_) emit(emitted_, -1);
}

void TemporalHighpass::finish() {
  while (emitted_ < pushed_) emit(emitted_, pushed_);
}

namespace {
// acc[i] += wk * (src[i] - cur[i]) in double, for float or double frames.
template <typename T>
void add_weighted_difference(std::vector<double>& acc, const T* src, const T* cur, double wk) {
  for (size_t i = 0; i < acc.size(); ++i)
    acc[i] += wk * (static_cast<double>(src[i]) - static_cast<double>(cur[i]));
}
}  // namespace

void TemporalHighpass::emit(int64_t t, int64_t known_frames) {
  const int64_t k_lo = std::max<int64_t>(-r_, -t);
  const int64_t k_hi = known_frames < 0 ? r_ : std::min<int64_t>(r_, known_frames - 1 - t);
  const Tensor& cur = window_[static_cast<size_t>(t - first_)];
  residual_.assign(static_cast<size_t>(cur.numel()), 0.0);
  // v_t - sum w_k v_{t+k} / sum w_k, written as a weighted sum of differences: the same value,
  // without cancellation, and exactly 0 for a constant sequence.
  double norm = 0;
  for (int64_t k = k_lo; k <= k_hi; ++k) {
    const double wk = w_[static_cast<size_t>(k + r_)];
    norm += wk;
    if (k == 0) continue;
    const Tensor& src = window_[static_cast<size_t>(t + k - first_)];
    if (cur.dtype() == DType::F32)
      add_weighted_difference(residual_, src.data<float>(), cur.data<float>(), wk);
    else
      add_weighted_difference(residual_, src.data<double>(), cur.data<double>(), wk);
  }
  for (double& d : residual_) d /= norm;
  sink_(t, residual_);
  ++emitted_;
  // Keep frames emitted_ - R onwards.
  while (first_ < emitted_ - r_) {
    window_.pop_front();
    ++first_;
  }
}

double temporal_highpass_energy(const std::vector<Tensor>& frames, double fps, double sigma_seconds) {
  check_frames("smoothness", frames);
  double energy = 0;
  TemporalHighpass hp(fps, [&](int64_t, const std::vector<double>& r) {
    for (double d : r) energy += d * d;
  }, sigma_seconds);
  for (const Tensor& f : frames) hp.push(f);
  hp.finish();
  return energy;
}

Smoothness smoothness(const std::vector<Tensor>& gt, const std::vector<Tensor>& pred, double fps,
                      double sigma_seconds) {
  STEADY_CHECK(gt.size() == pred.size(), "smoothness: ", gt.size(), " ground-truth frames but ",
               pred.size(), " predicted frames");
  Smoothness s;
  s.energy_gt = temporal_highpass_energy(gt, fps, sigma_seconds);
  s.energy_pred = temporal_highpass_energy(pred, fps, sigma_seconds);
  if (s.energy_pred > 0)
    s.s = std::sqrt(s.energy_gt / s.energy_pred);
  else
    s.s = s.energy_gt > 0 ? std::numeric_limits<double>::infinity()
                          : std::numeric_limits<double>::quiet_NaN();
  return s;
}

// ------------------------------------------------------------------------------ warping error

Tensor warp_by_flow(const Tensor& prev, const Tensor& flow, Tensor* valid_out) {
  check_cpu("warp_by_flow", "frame", prev);
  check_cpu("warp_by_flow", "flow", flow);
  STEADY_CHECK(prev.dim() == 3, "warp_by_flow: frame must be [C,H,W], got ", prev.str());
  const int64_t c_n = prev.size(0), h = prev.size(1), w = prev.size(2), plane = h * w;
  STEADY_CHECK(flow.dim() == 3 && flow.size(0) == 3 && flow.size(1) == h && flow.size(2) == w,
               "warp_by_flow: flow must be [3,", h, ",", w, "] (dx, dy, valid), got ", flow.str());
  const std::vector<double> src = prev.to_host(), f = flow.to_host();
  Tensor out = Tensor::zeros({c_n, h, w}, Device::CPU, DType::F64);
  Tensor valid = Tensor::zeros({1, h, w});
  double* o = out.data<double>();
  float* vm = valid.data<float>();
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x) {
      const int64_t k = y * w + x;
      if (!(f[2 * plane + k] > 0.5)) continue;
      const double xs = static_cast<double>(x) + f[k], ys = static_cast<double>(y) + f[plane + k];
      if (!(xs >= 0 && ys >= 0 && xs <= static_cast<double>(w - 1) && ys <= static_cast<double>(h - 1)))
        continue;
      // The lower tap never exceeds size - 2, so the upper one exists (with weight 0 at the edge).
      const int64_t x0 = std::min(static_cast<int64_t>(xs), std::max<int64_t>(w - 2, 0));
      const int64_t y0 = std::min(static_cast<int64_t>(ys), std::max<int64_t>(h - 2, 0));
      const int64_t x1 = std::min(x0 + 1, w - 1), y1 = std::min(y0 + 1, h - 1);
      const double fx = xs - static_cast<double>(x0), fy = ys - static_cast<double>(y0);
      for (int64_t c = 0; c < c_n; ++c) {
        const double* s = src.data() + c * plane;
        o[c * plane + k] = (1 - fy) * ((1 - fx) * s[y0 * w + x0] + fx * s[y0 * w + x1]) +
                           fy * ((1 - fx) * s[y1 * w + x0] + fx * s[y1 * w + x1]);
      }
      vm[k] = 1.f;
    }
  if (valid_out) *valid_out = valid;
  return out;
}

WarpingError warping_error(const std::vector<Tensor>& frames, const std::vector<Tensor>& flow) {
  check_frames("warping_error", frames);
  STEADY_CHECK(flow.size() == frames.size(), "warping_error: ", flow.size(), " flow fields for ",
               frames.size(), " frames");
  WarpingError r;
  double total_error = 0, valid_pixels = 0, all_pixels = 0;
  for (size_t t = 1; t < frames.size(); ++t) {
    Tensor valid;
    const Tensor warped = warp_by_flow(frames[t - 1], flow[t], &valid);
    const std::vector<double> cur = frames[t].to_host();
    const double* wp = warped.data<double>();
    const float* vm = valid.data<float>();
    const int64_t plane = valid.numel(), c_n = frames[t].size(0);
    double err = 0, n = 0;
    for (int64_t k = 0; k < plane; ++k) {
      if (vm[k] == 0.f) continue;
      n += 1;
      for (int64_t c = 0; c < c_n; ++c) {
        const double d = cur[c * plane + k] - wp[c * plane + k];
        err += d * d;
      }
    }
    valid_pixels += n;
    all_pixels += static_cast<double>(plane);
    if (n > 0) {
      total_error += err / n;
      ++r.frames;
    }
  }
  r.error = r.frames > 0 ? total_error / static_cast<double>(r.frames) : 0.0;
  r.valid_share = all_pixels > 0 ? valid_pixels / all_pixels : 0.0;
  return r;
}

// ------------------------------------------------------------------------- streamed scores

StreamScore::StreamScore(double fps, Masks masks, double sigma_seconds)
    : masks_(std::move(masks)),
      highpass_(fps, [this](int64_t t, const std::vector<double>& r) {
        const std::vector<Tensor> m = masks_ ? masks_(t) : std::vector<Tensor>{};
        if (energy.empty()) energy.assign(1 + m.size(), 0.0), counted.assign(1 + m.size(), 0.0);
        STEADY_CHECK(energy.size() == 1 + m.size(), "scores: frame ", t, " has ", m.size(),
                     " masks, frame 0 had ", energy.size() - 1);
        for (double d : r) energy[0] += d * d;
        counted[0] += static_cast<double>(r.size());
        for (size_t j = 0; j < m.size(); ++j) {
          const float* w = m[j].data<float>();
          const size_t plane = static_cast<size_t>(m[j].numel());
          STEADY_CHECK(plane > 0 && r.size() % plane == 0, "scores: mask ", m[j].str(),
                       " does not fit the frame");
          double e = 0, n = 0;
          for (size_t i = 0; i < r.size(); ++i) {
            const double wi = w[i % plane];
            e += wi * r[i] * r[i];
            n += wi;
          }
          energy[1 + j] += e;
          counted[1 + j] += n;
        }
      }, sigma_seconds) {}

void StreamScore::push(const Tensor& frame, const Tensor& ref, const Tensor& error_mask,
                       const Tensor& flow) {
  highpass_.push(frame);
  if (ref.defined()) {
    SquaredError one;
    one.add(frame, ref, error_mask);
    error.add(frame, ref, error_mask);
    per_frame_error.push_back(one.mse());
  } else {
    per_frame_error.push_back(std::numeric_limits<double>::quiet_NaN());
  }
  std::vector<double> host = frame.to_host();
  if (prev_.defined()) {
    double sum = 0;
    for (size_t i = 0; i < host.size(); ++i) sum += std::abs(host[i] - prev_host_[i]);
    per_frame_flicker.push_back(sum / static_cast<double>(host.size()));
    if (flow.defined()) {
      const WarpingError w = steady::warping_error({prev_, frame}, {Tensor(), flow});
      if (w.frames > 0) warp_sum_ += w.error, ++warp_frames_;
    }
  } else {
    per_frame_flicker.push_back(std::numeric_limits<double>::quiet_NaN());
  }
  prev_ = frame;
  prev_host_ = std::move(host);
}

void StreamScore::finish() { highpass_.finish(); }

double StreamScore::rms_highpass(size_t j) const {
  return j < counted.size() && counted[j] > 0 ? std::sqrt(energy[j] / counted[j])
                                              : std::numeric_limits<double>::quiet_NaN();
}

double StreamScore::flicker() const {
  double sum = 0;
  int64_t n = 0;
  for (double f : per_frame_flicker)
    if (!std::isnan(f)) sum += f, ++n;
  return n > 0 ? sum / static_cast<double>(n) : std::numeric_limits<double>::quiet_NaN();
}

double StreamScore::warping_error() const {
  return warp_frames_ > 0 ? warp_sum_ / static_cast<double>(warp_frames_)
                          : std::numeric_limits<double>::quiet_NaN();
}

}  // namespace steady
