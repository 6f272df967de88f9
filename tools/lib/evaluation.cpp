#include "tools/lib/evaluation.h"

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <limits>
#include <mutex>
#include <optional>
#include <thread>

#include "data/camera.h"
#include "data/color.h"
#include "data/image_io.h"
#include "data/metrics.h"
#include "data/sequence.h"
#include "data/video.h"
#include "losses/regularizers.h"
#include "models/hdr_autoencoder.h"

namespace steady {
namespace fs = std::filesystem;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kDisplayStops = -3.0;  // HDR previews: this exposure, then gamma 2.2
constexpr int64_t kCameraSamples = int64_t{1} << 24;  // max-channel values pooled for the camera

uint64_t fnv1a(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

// Elementwise map of a CPU float tensor into a new float tensor.
template <typename F>
Tensor map_values(const Tensor& t, F f) {
  const Tensor src = t.dtype() == DType::F32 ? t : t.to(DType::F32);
  Tensor out = Tensor::empty(src.shape());
  const float* s = src.data<float>();
  float* o = out.data<float>();
  for (int64_t i = 0; i < src.numel(); ++i) o[i] = f(s[i]);
  return out;
}

Tensor log_domain(const Tensor& linear) {
  return map_values(linear, [](float v) { return static_cast<float>(std::log(std::max(v, 0.f) + kHdrLogEps)); });
}
Tensor linear_from_log(const Tensor& log) {
  return map_values(log, [](float v) { return static_cast<float>(std::exp(static_cast<double>(v)) - kHdrLogEps); });
}
Tensor hdr_display(const Tensor& linear) {
  const double gain = std::exp2(kDisplayStops);
  return map_values(linear, [gain](float v) {
    return static_cast<float>(std::pow(std::min(1.0, std::max(0.0, v * gain)), 1 / 2.2));
  });
}
Tensor clamp01(const Tensor& t) {
  return map_values(t, [](float v) { return std::isfinite(v) ? std::min(1.f, std::max(0.f, v)) : 0.f; });
}

// [1,H,W] binary: max over channels of img > threshold (or >= with inclusive).
Tensor max_channel_mask(const Tensor& img, double threshold, bool inclusive) {
  const Tensor f = img.dtype() == DType::F32 ? img : img.to(DType::F32);
  const int64_t C = f.size(0), plane = f.size(1) * f.size(2);
  Tensor out = Tensor::zeros({1, f.size(1), f.size(2)});
  const float* p = f.data<float>();
  float* o = out.data<float>();
  for (int64_t k = 0; k < plane; ++k) {
    float m = p[k];
    for (int64_t c = 1; c < C; ++c) m = std::max(m, p[c * plane + k]);
    o[k] = (inclusive ? m >= threshold : m > threshold) ? 1.f : 0.f;
  }
  return out;
}

// Box down-scaling by an integer factor (side-by-side video panels).
Tensor shrink(const Tensor& img, int64_t factor) {
  if (factor <= 1) return img;
  const int64_t C = img.size(0), H = img.size(1), W = img.size(2), h = H / factor, w = W / factor;
  Tensor out = Tensor::zeros({C, h, w});
  const float* p = img.data<float>();
  float* o = out.data<float>();
  const float norm = 1.f / static_cast<float>(factor * factor);
  for (int64_t c = 0; c < C; ++c)
    for (int64_t y = 0; y < h * factor; ++y)
      for (int64_t x = 0; x < w * factor; ++x) o[(c * h + y / factor) * w + x / factor] += p[(c * H + y) * W + x] * norm;
  return out;
}

// Panels [3,h,w] side by side with a 4-pixel gap.
Tensor side_by_side(const std::vector<Tensor>& panels) {
  const int64_t gap = 4, h = panels[0].size(1);
  int64_t W = 0;
  for (const Tensor& p : panels) W += p.size(2) + gap;
  W -= gap;
  Tensor out = Tensor::zeros({3, h, W});
  int64_t x0 = 0;
  for (const Tensor& p : panels) {
    const Tensor rgb = p.size(0) == 3 ? p : convert_channels(p, 3, "panel");
    const int64_t w = p.size(2);
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t y = 0; y < h; ++y)
        std::copy_n(rgb.data<float>() + (c * h + y) * w, w, out.data<float>() + (c * h + y) * W + x0);
    x0 += w + gap;
  }
  return out;
}

// Frames of a second sequence (the reference) delivered in step with the first: a reader
// thread runs for_each_frame and hands frames over through a queue of bounded length.
class FrameQueue {
 public:
  FrameQueue(const std::string& spec, const SequenceReadOptions& opt)
      : thread_([this, spec, opt] {
          try {
            for_each_frame(spec, opt, [&](int64_t, const Tensor& f, const Tensor&) {
              std::unique_lock<std::mutex> lock(mu_);
              cv_.wait(lock, [&] { return frames_.size() < kDepth || stop_; });
              if (stop_) throw Error("stopped");
              frames_.push_back(f);
              cv_.notify_all();
            });
          } catch (const std::exception& e) {
            std::lock_guard<std::mutex> lock(mu_);
            if (!stop_) error_ = e.what();
          }
          std::lock_guard<std::mutex> lock(mu_);
          done_ = true;
          cv_.notify_all();
        }) {}
  ~FrameQueue() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
      cv_.notify_all();
    }
    thread_.join();
  }
  // The next frame, or undefined when the sequence has ended.
  Tensor next() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return !frames_.empty() || done_; });
    if (!error_.empty()) fail(error_);
    if (frames_.empty()) return Tensor();
    Tensor f = frames_.front();
    frames_.pop_front();
    cv_.notify_all();
    return f;
  }

 private:
  static constexpr size_t kDepth = 4;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Tensor> frames_;
  bool done_ = false, stop_ = false;
  std::string error_;
  std::thread thread_;
};

// One frame on its way through the evaluation.
struct Item {
  int64_t t = 0;
  Tensor net_input;              // the models' input [Cin,H,W] (hdr: LDR, color: L/50 - 1)
  Tensor input_row, ref_row;     // the input's and the reference's frames in the metric domain
  Tensor input_display, ref_display;  // only for the report
  Tensor error_mask;             // [1,H,W] or undefined
  std::vector<Tensor> base_masks;
  Tensor flow;
};

double percentile_of(std::vector<double>& v, double q) {
  std::sort(v.begin(), v.end());
  if (v.empty()) return 0;
  const double pos = q * static_cast<double>(v.size() - 1);
  const size_t i = static_cast<size_t>(pos);
  const double f = pos - static_cast<double>(i);
  return i + 1 < v.size() ? v[i] * (1 - f) + v[i + 1] * f : v[i];
}

std::string frame_tag(int64_t t) {
  char b[16];
  std::snprintf(b, sizeof b, "%04lld", static_cast<long long>(t));
  return b;
}

}  // namespace

HdrEvalFrame hdr_eval_frame(const Tensor& scene, const CameraParams& cam) {
  const CameraShot shot = expose(scene, cam);
  HdrEvalFrame f;
  f.net_input = shot.ldr;
  f.exposed = shot.exposed;
  f.input_linear = map_values(shot.ldr, [](float v) { return v * v; });
  f.input_log = hdr_log(f.input_linear);
  f.reference_log = hdr_log(shot.exposed);
  f.saturated = max_channel_mask(shot.ldr, HdrAutoencoder::kTau, false);
  f.over = max_channel_mask(shot.exposed, 1.0, true);
  return f;
}

CameraParams sequence_camera(const std::string& spec, const SequenceReadOptions& ropt,
                             uint64_t seed, const SequenceInfo* probed) {
  const SequenceInfo info = probed ? *probed : probe_sequence(spec, ropt);
  std::vector<float> values;
  int64_t stride = 1, seen = 0;
  for_each_frame(spec, ropt, [&](int64_t t, const Tensor& f, const Tensor&) {
    const int64_t plane = f.size(1) * f.size(2);
    if (t == 0 && info.frames > 0) stride = std::max<int64_t>(1, info.frames * plane / kCameraSamples);
    const float* p = f.data<float>();
    for (int64_t k = 0; k < plane; ++k, ++seen)
      if (seen % stride == 0) values.push_back(std::max({p[k], p[plane + k], p[2 * plane + k]}));
  }, &info);
  Rng rng(seed ^ fnv1a(sequence_name(spec)));
  CameraParams cam =
      sample_camera(Tensor::from_vector(values, {1, 1, static_cast<int64_t>(values.size())}), rng);
  cam.noise_std = 0;
  return cam;
}

std::string model_output_name(const std::string& checkpoint) {
  const fs::path p(checkpoint);
  return p.parent_path().filename().string() + "_" + p.stem().string();
}

std::string sequence_name(const std::string& spec) {
  fs::path p(spec);
  while (!p.empty() && p.filename().empty()) p = p.parent_path();  // "dir/" -> "dir"
  std::string name = p.filename().string();
  if (name.find('%') != std::string::npos) name = p.parent_path().filename().string();
  const size_t dot = name.find('.');
  if (dot != std::string::npos && dot > 0) name = name.substr(0, dot);
  return name.empty() ? "sequence" : name;
}

std::vector<Column> eval_columns(const SequenceResult& r) {
  if (r.task == "hdr" && r.camera)
    return {{"psnr", "PSNR sat (dB)"},   {"psnr_display", "PSNR sat display"}, {"s", "S sat-union"},  {"s_sat", "S sat"},
            {"s_gt", "S gt-over"},       {"s_all", "S all px"}, {"boost", "boost sat"},
            {"flicker", "flicker"},      {"warp", "warp error"}, {"equiv", "equiv error"}};
  if (r.task == "hdr")  // display frames (PNG, JPG, video): the frames are the LDR input
    return {{"psnr", "PSNR (dB)"}, {"s", "S"}, {"hf", "HF rms"}, {"flicker", "flicker"},
            {"warp", "warp error"}, {"equiv", "equiv error"}};
  if (r.task == "color")
    return {{"psnr", "PSNR ab (dB)"}, {"s", "S ab"}, {"hf", "HF rms ab"}, {"flicker", "flicker"},
            {"warp", "warp error"}, {"equiv", "equiv error"}};
  if (r.hdr_frames && r.has_reference)
    return {{"psnr", "PSNR (dB)"}, {"s", "S gt-union"}, {"s_all", "S all px"},
            {"hf", "HF rms gt-union"}, {"hf_all", "HF rms"}, {"flicker", "flicker"},
            {"warp", "warp error"}};
  return {{"psnr", "PSNR (dB)"}, {"s", "S"}, {"hf", "HF rms"}, {"flicker", "flicker"},
          {"warp", "warp error"}};
}

double EvalRow::value(const std::string& key) const {
  const auto it = values.find(key);
  return it == values.end() ? std::numeric_limits<double>::quiet_NaN() : it->second;
}

SequenceResult evaluate_sequence(const std::string& spec, std::vector<LoadedModel>& models,
                                 const EvalOptions& opt) {
  SequenceReadOptions ropt;
  ropt.channels = 3;
  ropt.max_frames = opt.max_frames;
  ropt.video_max_side = opt.max_side;
  const SequenceInfo info = probe_sequence(spec, ropt);
  SequenceResult res;
  res.name = sequence_name(spec);
  res.source = spec;
  res.task = models.empty() ? "sequence" : models[0].model->task();
  res.fps = opt.fps > 0 ? opt.fps : (info.fps > 0 ? info.fps : 25.0);
  res.has_motion = !info.flow.empty();
  res.hdr_frames = info.hdr;
  const bool hdr = res.task == "hdr";
  const bool camera = hdr && info.hdr;
  const bool color = res.task == "color";

  CameraParams cam;
  if (camera) cam = sequence_camera(spec, ropt, opt.seed, &info);
  if (camera) res.camera = cam;
  int64_t saturated_count = 0, pixel_count = 0;  // hdr with a camera: input max channel > tau

  // Rows.
  std::vector<std::string> names, labels;
  if (!models.empty()) {
    names.push_back("input");
    labels.push_back(hdr ? (camera ? "input (LDR, linearized)" : "input (linearized)") : "input (grey, a = b = 0)");
  } else {
    names.push_back("sequence");
    labels.push_back(spec);
  }
  for (size_t i = 0; i < models.size(); ++i) {
    names.push_back("m" + std::to_string(i + 1));
    labels.push_back(models[i].path);
  }
  const bool has_ref = camera || color || !opt.ref.empty();
  res.has_reference = has_ref;
  if (has_ref) {
    names.push_back("reference");
    labels.push_back(opt.ref.empty() ? "ground truth" : "reference " + opt.ref);
  }
  const size_t n_rows = names.size(), ref_row = has_ref ? n_rows - 1 : n_rows;

  // Masks: base masks per frame, widened on request (see evaluation.h).
  const bool ref_masks = !camera && info.hdr && !opt.ref.empty();
  std::map<int64_t, std::vector<Tensor>> base_masks;
  int radius = static_cast<int>(temporal_gaussian(0.15 * res.fps).size() / 2);
  int64_t cached_t = -1;
  std::vector<Tensor> cached;
  auto union_of = [&](size_t which, int64_t t) {
    Tensor u;
    for (int64_t k = t - radius; k <= t + radius; ++k) {
      auto it = base_masks.find(k);
      if (it == base_masks.end()) continue;
      if (!u.defined()) {
        u = it->second[which].clone();
        continue;
      }
      float* o = u.data<float>();
      const float* m = it->second[which].data<float>();
      for (int64_t i = 0; i < u.numel(); ++i) o[i] = std::max(o[i], m[i]);
    }
    return u;
  };
  StreamScore::Masks masks_of = [&](int64_t t) -> std::vector<Tensor> {
    if (t == cached_t) return cached;
    const std::vector<Tensor>& b = base_masks.at(t);
    if (camera) cached = {union_of(0, t), b[0], b[1]};       // sat-union, sat, gt-over
    else if (ref_masks) cached = {union_of(0, t), b[0]};     // gt-union, gt-over
    else cached = {};
    cached_t = t;
    return cached;
  };
  std::deque<StreamScore> scores;  // never moved: each one's filter calls back into it
  for (size_t r = 0; r < n_rows; ++r) scores.emplace_back(res.fps, masks_of);

  // Report and output files.
  const bool report = !opt.report_dir.empty();
  const fs::path report_seq = report ? fs::path(opt.report_dir) / res.name : fs::path();
  if (report) fs::create_directories(report_seq);
  std::vector<fs::path> out_dirs(models.size());
  if (!opt.out_dir.empty())
    for (size_t i = 0; i < models.size(); ++i) {
      out_dirs[i] = fs::path(opt.out_dir) / res.name / model_output_name(models[i].path);
      fs::create_directories(out_dirs[i]);
    }
  const int64_t n_known = info.frames;
  std::vector<int64_t> still_at = {0};
  if (n_known > 2) still_at = {0, n_known / 2, n_known - 1};
  const int64_t diff_at = n_known > 2 ? n_known / 2 : 1;
  nlohmann::json stills = nlohmann::json::array(), diff = nullptr;
  std::unique_ptr<VideoWriter> video;
  if (report && ffmpeg_available())
    video = std::make_unique<VideoWriter>((report_seq / "side_by_side.mp4").string(), res.fps);
  std::vector<Tensor> prev_rows(n_rows);

  // Profiles: candidate pixels (a grid, or the pixels asked for), values recorded per row.
  std::vector<std::pair<int64_t, int64_t>> candidates;
  std::vector<std::vector<float>> profile(n_rows);  // [t][candidate][channel]
  std::vector<char> candidate_masked;               // hdr: ever under the protocol's mask
  int64_t profile_channels = 0;

  // Equivariance: the same transforms for every model.
  std::vector<double> equiv_sum(models.size(), 0.0), equiv_n(models.size(), 0.0);
  // HDR: how far each row lifts the saturated pixels above the input (mean log excess), so
  // models can be compared at matched highlight brightness (S depends on it).
  std::vector<double> boost_sum(n_rows, 0.0), boost_n(n_rows, 0.0);
  // HDR: PSNR in a display-referred domain as well, the report's view (-3 stops, gamma 2.2,
  // clamped to [0, 1]), over the same saturated pixels: the log domain weighs a highlight's
  // error by its ratio, the display view by what a viewer of that exposure would see.
  std::vector<SquaredError> display_error(n_rows);
  std::vector<Rng> equiv_rng(models.size(), Rng(opt.seed ^ fnv1a(res.name) ^ 0x9e3779b97f4a7c15ull));

  FrameQueue* ref_queue = nullptr;
  std::optional<FrameQueue> ref_queue_store;
  if (!opt.ref.empty() && !camera && !color) {
    ref_queue_store.emplace(opt.ref, ropt);
    ref_queue = &*ref_queue_store;
  }

  int64_t H = 0, W = 0;
  std::vector<Item> chunk;
  auto process_chunk = [&] {
    if (chunk.empty()) return;
    const int64_t n = static_cast<int64_t>(chunk.size());
    // Model outputs for the chunk, in the metric domain.
    std::vector<std::vector<Tensor>> rows(n_rows, std::vector<Tensor>(n));
    std::vector<std::vector<Tensor>> displays(n_rows, std::vector<Tensor>(n));
    for (int64_t i = 0; i < n; ++i) {
      rows[0][i] = chunk[i].input_row;
      displays[0][i] = chunk[i].input_display;
      if (has_ref) rows[ref_row][i] = chunk[i].ref_row, displays[ref_row][i] = chunk[i].ref_display;
    }
    std::vector<Tensor> inputs;
    for (const Item& it : chunk) inputs.push_back(it.net_input);
    for (size_t m = 0; m < models.size(); ++m) {
      Model& model = *models[m].model;
      std::vector<Tensor> out = run_model(model, inputs, opt.device, opt.batch);
      for (int64_t i = 0; i < n; ++i) {
        Tensor o = out[i];
        if (hdr) {
          if (opt.excess_gain != 1.0) {
            // log output = base + k (output - base), base the model's own blend base log(x^2 + eps).
            const float* x = inputs[i].data<float>();
            float* v = o.data<float>();
            for (int64_t k = 0; k < o.numel(); ++k) {
              const double base = std::log(static_cast<double>(x[k]) * x[k] + HdrAutoencoder::kLogEps);
              v[k] = static_cast<float>(base + opt.excess_gain * (v[k] - base));
            }
          }
          const Tensor linear = linear_from_log(o);
          rows[m + 1][i] = log_domain(linear);
          if (report || !out_dirs[m].empty()) displays[m + 1][i] = hdr_display(linear);
          if (!out_dirs[m].empty()) {
            const std::string base = (out_dirs[m] / ("frame_" + frame_tag(chunk[i].t))).string();
            write_exr(base + ".exr", linear);
            write_png(base + ".png", displays[m + 1][i]);
          }
        } else {
          rows[m + 1][i] = o;
          if (report || !out_dirs[m].empty()) displays[m + 1][i] = colorization_to_srgb(inputs[i], o);
          if (!out_dirs[m].empty())
            write_png((out_dirs[m] / ("frame_" + frame_tag(chunk[i].t) + ".png")).string(), displays[m + 1][i]);
        }
      }
      // The equivariance error on every Nth frame of the chunk.
      if (opt.equivariance_every > 0) {
        std::vector<int64_t> pick;
        for (int64_t i = 0; i < n; ++i)
          if (chunk[i].t % opt.equivariance_every == 0) pick.push_back(i);
        if (!pick.empty()) {
          NoGradGuard no_grad;
          const int64_t b = static_cast<int64_t>(pick.size()), cin = inputs[0].size(0);
          const int64_t cout = out[0].size(0);
          std::vector<float> xs, fxs, ms;
          for (int64_t i : pick) {
            xs.insert(xs.end(), inputs[i].data<float>(), inputs[i].data<float>() + inputs[i].numel());
            fxs.insert(fxs.end(), out[i].data<float>(), out[i].data<float>() + out[i].numel());
            if (hdr) {
              const Tensor m01 = max_channel_mask(inputs[i], HdrAutoencoder::kTau, false);
              ms.insert(ms.end(), m01.data<float>(), m01.data<float>() + m01.numel());
            }
          }
          const Tensor x = Tensor::from_vector(xs, {b, cin, H, W}, opt.device);
          const Tensor fx = Tensor::from_vector(fxs, {b, cout, H, W}, opt.device);
          const Tensor mask = hdr ? Tensor::from_vector(ms, {b, 1, H, W}, opt.device) : Tensor();
          const double e = transform_equivariance_error(
              x, fx, mask, [&](const Var& v) { return model.forward(v, false); },
              opt.transform_scale, equiv_rng[m]);
          equiv_sum[m] += e * static_cast<double>(b);
          equiv_n[m] += static_cast<double>(b);
        }
      }
    }
    // Scores, profiles, report files, frame by frame.
    for (int64_t i = 0; i < n; ++i) {
      const Item& it = chunk[i];
      const Tensor ref = has_ref ? rows[ref_row][i] : Tensor();
      for (size_t r = 0; r < n_rows; ++r)
        scores[r].push(rows[r][i], r == ref_row ? Tensor() : ref, it.error_mask, it.flow);
      if (camera) {
        const Tensor ref_view = hdr_display(linear_from_log(ref));
        for (size_t r = 0; r < n_rows; ++r)
          if (r != ref_row) display_error[r].add(hdr_display(linear_from_log(rows[r][i])), ref_view, it.error_mask);
        const float* m = it.error_mask.data<float>();
        const int64_t plane = H * W, C = rows[0][i].size(0);
        const float* in = rows[0][i].data<float>();
        for (size_t r = 0; r < n_rows; ++r) {
          const float* v = rows[r][i].data<float>();
          for (int64_t c = 0; c < C; ++c)
            for (int64_t k = 0; k < plane; ++k)
              if (m[k] > 0) boost_sum[r] += v[c * plane + k] - in[c * plane + k], boost_n[r] += 1;
        }
      }
      if (it.t < opt.profile_frames) {
        const int64_t C = rows[0][i].size(0), plane = H * W;
        profile_channels = C;
        for (size_t r = 0; r < n_rows; ++r) {
          const Tensor f = rows[r][i].dtype() == DType::F32 ? rows[r][i] : rows[r][i].to(DType::F32);
          for (const auto& [x, y] : candidates)
            for (int64_t c = 0; c < C; ++c) profile[r].push_back(f.data<float>()[c * plane + y * W + x]);
        }
        if (camera && !it.base_masks.empty())
          for (size_t k = 0; k < candidates.size(); ++k)
            if (it.base_masks[0].data<float>()[candidates[k].second * W + candidates[k].first] > 0)
              candidate_masked[k] = 1;
      }
      if (report) {
        if (std::find(still_at.begin(), still_at.end(), it.t) != still_at.end()) {
          nlohmann::json images = nlohmann::json::array();
          for (size_t r = 0; r < n_rows; ++r) {
            const std::string file = res.name + "/still_" + frame_tag(it.t) + "_" + names[r] + ".png";
            write_png((fs::path(opt.report_dir) / file).string(), displays[r][i]);
            images.push_back({{"row", names[r]}, {"file", file}});
          }
          stills.push_back({{"frame", it.t}, {"images", images}});
        }
        if (it.t == diff_at && prev_rows[0].defined()) {
          // |v_t - v_{t-1}|, max over channels, on a crop of at most 256 x 256 at the centre.
          const int64_t cw = std::min<int64_t>(W, 256), ch = std::min<int64_t>(H, 256);
          const int64_t cx = (W - cw) / 2, cy = (H - ch) / 2, plane = H * W;
          std::vector<std::vector<float>> d(n_rows, std::vector<float>(cw * ch, 0.f));
          std::vector<double> all;
          for (size_t r = 0; r < n_rows; ++r) {
            const std::vector<double> a = rows[r][i].to_host(), b = prev_rows[r].to_host();
            const int64_t C = rows[r][i].size(0);
            for (int64_t y = 0; y < ch; ++y)
              for (int64_t x = 0; x < cw; ++x) {
                double m = 0;
                for (int64_t c = 0; c < C; ++c) {
                  const size_t k = static_cast<size_t>(c * plane + (y + cy) * W + x + cx);
                  m = std::max(m, std::abs(a[k] - b[k]));
                }
                d[r][y * cw + x] = static_cast<float>(m);
                if (m > 0) all.push_back(m);
              }
          }
          const double scale = std::max(1e-6, percentile_of(all, 0.995));
          nlohmann::json images = nlohmann::json::array();
          for (size_t r = 0; r < n_rows; ++r) {
            for (float& v : d[r]) v = static_cast<float>(std::min(1.0, v / scale));
            const std::string file = res.name + "/diff_" + frame_tag(it.t) + "_" + names[r] + ".png";
            write_png((fs::path(opt.report_dir) / file).string(), Tensor::from_vector(d[r], {1, ch, cw}));
            images.push_back({{"row", names[r]}, {"file", file}});
          }
          char note[160];
          std::snprintf(note, sizeof note, "|v_t - v_{t-1}|, max over channels: black 0, white %.3g or more (%s)",
                        scale, hdr || info.hdr ? "log units" : color ? "ab/110" : "pixel values");
          diff = {{"frame", it.t}, {"crop", {cx, cy, cw, ch}}, {"scale", note}, {"images", images}};
        }
        if (video) {
          const int64_t factor = (std::max(H, W) + 255) / 256;
          std::vector<Tensor> panels;
          for (size_t r = 0; r < n_rows; ++r) panels.push_back(shrink(clamp01(displays[r][i]), factor));
          video->write(side_by_side(panels));
        }
      }
      for (size_t r = 0; r < n_rows; ++r) prev_rows[r] = rows[r][i];
      // Every row has now had frame t - R's residual; later ones widen over frames > t - 2R.
      while (!base_masks.empty() && base_masks.begin()->first < it.t - 2 * radius)
        base_masks.erase(base_masks.begin());
    }
    chunk.clear();
  };

  const int64_t frames = for_each_frame(spec, ropt, [&](int64_t t, const Tensor& frame, const Tensor& flow) {
    Item it;
    it.t = t;
    it.flow = flow;
    if (t == 0) {
      H = frame.size(1), W = frame.size(2);
      if (!models.empty()) {  // the networks' down-sampling: the top-left crop that fits
        const int m = models[0].model->size_multiple();
        H = H / m * m, W = W / m * m;
      }
      STEADY_CHECK(H > 0 && W > 0, spec, ": frames of ", frame.size(2), "x", frame.size(1),
                   " are too small for the ", res.task, " model");
      res.width = W, res.height = H;
      if (!opt.profile_at.empty()) {
        for (const auto& [x, y] : opt.profile_at) {
          STEADY_CHECK(x >= 0 && y >= 0 && x < W && y < H, "--profile ", x, ",", y,
                       " is outside the ", W, "x", H, " frames");
          candidates.push_back({x, y});
        }
      } else {
        const int64_t sx = std::max<int64_t>(1, W / 32), sy = std::max<int64_t>(1, H / 32);
        for (int64_t y = sy / 2; y < H; y += sy)
          for (int64_t x = sx / 2; x < W; x += sx) candidates.push_back({x, y});
      }
      candidate_masked.assign(candidates.size(), 0);
    }
    const Tensor f = crop_top_left(frame, H, W);
    if (camera) {
      HdrEvalFrame hf = hdr_eval_frame(f, cam);
      it.net_input = hf.net_input;
      it.input_row = hf.input_log;
      it.ref_row = hf.reference_log;
      if (report) it.input_display = hdr_display(hf.input_linear), it.ref_display = hdr_display(hf.exposed);
      it.error_mask = hf.saturated;
      it.base_masks = {hf.saturated, hf.over};
      const float* m = hf.saturated.data<float>();
      for (int64_t k = 0; k < hf.saturated.numel(); ++k) saturated_count += m[k] > 0;
      pixel_count += hf.saturated.numel();
    } else if (hdr) {
      it.net_input = f.dtype() == DType::F32 ? f : f.to(DType::F32);
      const Tensor lin = map_values(it.net_input, [](float v) { return v * v; });
      it.input_row = log_domain(lin);
      if (report) it.input_display = hdr_display(lin);
    } else if (color) {
      ColorizationPair p = colorization_pair(f);
      it.net_input = p.input.to(DType::F32);
      it.input_row = Tensor::zeros({2, H, W});
      if (report) it.input_display = convert_channels(colorization_to_srgb(it.net_input, it.input_row), 3, "grey");
      it.ref_row = p.target.to(DType::F32);
      if (report) it.ref_display = f;
    } else {
      it.input_row = info.hdr ? log_domain(f) : f;
      if (report) it.input_display = info.hdr ? hdr_display(f) : clamp01(f);
    }
    if (ref_queue) {
      Tensor r = ref_queue->next();
      STEADY_CHECK(r.defined(), "--ref ", opt.ref, " has fewer frames than ", spec, " (", t, ")");
      STEADY_CHECK(r.size(1) >= H && r.size(2) >= W, "--ref ", opt.ref, " frames are ", r.size(2),
                   "x", r.size(1), " but ", spec, "'s are ", W, "x", H);
      r = crop_top_left(r, H, W);
      it.ref_row = info.hdr ? log_domain(r) : r;
      if (report) it.ref_display = info.hdr ? hdr_display(r) : clamp01(r);
      if (ref_masks) it.base_masks = {max_channel_mask(r, 1.0, true)};
    }
    if (it.flow.defined() && (it.flow.size(1) != H || it.flow.size(2) != W))
      it.flow = crop_top_left(it.flow, H, W);
    base_masks[t] = it.base_masks;
    chunk.push_back(std::move(it));
    if (static_cast<int64_t>(chunk.size()) >= opt.batch) process_chunk();
  }, &info);
  process_chunk();
  for (StreamScore& s : scores) s.finish();
  if (video) video->close();
  res.frames = frames;
  if (camera) res.saturated_share = static_cast<double>(saturated_count) / static_cast<double>(std::max<int64_t>(1, pixel_count));
  STEADY_CHECK(frames >= 2, spec, ": a video needs at least 2 frames, found ", frames);

  // Values per row.
  for (size_t r = 0; r < n_rows; ++r) {
    EvalRow row{names[r], labels[r], {}};
    const StreamScore& s = scores[r];
    auto s_ratio = [&](size_t j) {
      if (!has_ref || j >= s.energy.size()) return kNaN;
      const double eg = scores[ref_row].energy[j], ep = s.energy[j];
      return ep > 0 ? std::sqrt(eg / ep) : (eg > 0 ? std::numeric_limits<double>::infinity() : kNaN);
    };
    row.values["psnr"] = r == ref_row || !has_ref ? kNaN : s.error.psnr(color ? 2.0 : 1.0);
    if (camera) row.values["psnr_display"] = r == ref_row ? kNaN : display_error[r].psnr(1.0);
    row.values["flicker"] = s.flicker();
    row.values["warp"] = s.warping_error();
    row.values["hf_all"] = s.rms_highpass(0);
    if (camera) {
      row.values["s"] = s_ratio(1), row.values["s_sat"] = s_ratio(2), row.values["s_gt"] = s_ratio(3);
      row.values["s_all"] = s_ratio(0);
      row.values["hf"] = s.rms_highpass(1);
    } else if (ref_masks) {
      row.values["s"] = s_ratio(1), row.values["s_all"] = s_ratio(0);
      row.values["hf"] = s.rms_highpass(1);
    } else {
      row.values["s"] = s_ratio(0);
      row.values["hf"] = s.rms_highpass(0);
    }
    row.values["boost"] = boost_n[r] > 0 ? boost_sum[r] / boost_n[r] : kNaN;
    row.values["equiv"] = r >= 1 && r <= models.size() && equiv_n[r - 1] > 0
                              ? equiv_sum[r - 1] / equiv_n[r - 1] : kNaN;
    res.rows.push_back(row);
  }

  if (report) {
    // Per-frame error and flicker.
    const std::string per_frame = res.name + "/per_frame.csv";
    {
      std::ofstream csv(fs::path(opt.report_dir) / per_frame);
      csv << "t";
      for (size_t r = 0; r < n_rows; ++r) csv << "," << names[r] << ":error," << names[r] << ":flicker";
      csv << "\n";
      auto cell = [](double v) { return std::isfinite(v) ? std::to_string(v) : std::string(); };
      for (int64_t t = 0; t < frames; ++t) {
        csv << t;
        for (size_t r = 0; r < n_rows; ++r)
          csv << "," << cell(scores[r].per_frame_error[t]) << "," << cell(scores[r].per_frame_flicker[t]);
        csv << "\n";
      }
      STEADY_CHECK(csv.good(), "cannot write ", (fs::path(opt.report_dir) / per_frame).string());
    }
    // Profiles: the pixels asked for, or those where the first model (the sequence itself
    // without models) flickers most, under the saturated-pixel mask for HDR where any pixel is.
    const int64_t T = std::min(frames, opt.profile_frames), K = static_cast<int64_t>(candidates.size());
    const int64_t C = profile_channels;
    std::vector<int64_t> chosen;
    if (!opt.profile_at.empty()) {
      for (int64_t k = 0; k < K; ++k) chosen.push_back(k);
    } else {
      const size_t lead = models.empty() ? 0 : 1;
      const bool any_masked = std::count(candidate_masked.begin(), candidate_masked.end(), 1) > 0;
      std::vector<std::pair<double, int64_t>> score;
      for (int64_t k = 0; k < K; ++k) {
        if (camera && any_masked && !candidate_masked[k]) continue;
        // Flicker, not motion: the second temporal difference (a jitter the motion does not
        // explain), beyond the reference's own where there is one.
        auto jitter = [&](size_t r) {
          double sum = 0;
          for (int64_t t = 1; t + 1 < T; ++t)
            for (int64_t c = 0; c < C; ++c) {
              const auto v = [&](int64_t u) { return profile[r][(u * K + k) * C + c]; };
              sum += std::abs(v(t + 1) - 2 * v(t) + v(t - 1));
            }
          return sum;
        };
        score.push_back({-(jitter(lead) - (has_ref ? jitter(ref_row) : 0.0)), k});
      }
      std::sort(score.begin(), score.end());
      for (size_t i = 0; i < score.size() && static_cast<int>(i) < opt.profile_count; ++i)
        chosen.push_back(score[i].second);
    }
    const std::string profile_file = res.name + "/profile.csv";
    nlohmann::json pixels = nlohmann::json::array();
    {
      std::ofstream csv(fs::path(opt.report_dir) / profile_file);
      csv << "t";
      for (size_t r = 0; r < n_rows; ++r)
        for (int64_t k : chosen)
          for (int64_t c = 0; c < C; ++c)
            csv << ",\"" << names[r] << "@" << candidates[k].first << "," << candidates[k].second << ":" << c << "\"";
      csv << "\n";
      for (int64_t t = 0; t < T; ++t) {
        csv << t;
        for (size_t r = 0; r < n_rows; ++r)
          for (int64_t k : chosen)
            for (int64_t c = 0; c < C; ++c) csv << "," << profile[r][(t * K + k) * C + c];
        csv << "\n";
      }
      STEADY_CHECK(csv.good(), "cannot write ", (fs::path(opt.report_dir) / profile_file).string());
    }
    for (int64_t k : chosen) pixels.push_back({candidates[k].first, candidates[k].second});
    res.report = {{"stills", stills},
                  {"diff", diff},
                  {"profile_csv", profile_file},
                  {"profile_pixels", pixels},
                  {"per_frame_csv", per_frame},
                  {"video", video ? nlohmann::json(res.name + "/side_by_side.mp4") : nlohmann::json(nullptr)},
                  {"display", hdr || info.hdr ? "HDR shown at -3 stops (x 1/8 of the camera's clip point), gamma 2.2"
                                              : color ? "sRGB; the input row is the grey frame" : "as stored"}};
  }
  return res;
}

}  // namespace steady
