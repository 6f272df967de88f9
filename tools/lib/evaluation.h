// The evaluation protocol of eval_video (docs/RESULTS.md, "Protocol"): one sequence streamed
// through the models and the measures of data/metrics.h, with memory bounded by the temporal
// window, whatever the sequence's length.
//
// Rows: the input, each model, and the reference (the ground truth) when there is one. What
// they are depends on the task:
//   hdr (an HDR model, HDR frames):  the frames are the scene; a virtual camera drawn per
//       sequence (seed and the sequence's name, pooled over its frames) exposes it once
//       (expose(), as train_hdr's samples): the LDR input is camera(e * scene), the ground
//       truth the exposed scene e * scene. The result names the camera and the share of input
//       pixels above tau. Measures in the log domain log(max(v,0) + 1/255).
//       The input row is the linearized LDR x^2. Masks for S: the pixels the input saturates
//       (max_c x > tau = 0.95) per frame ("sat"), the same widened to the union over the
//       Gaussian's support ("sat-union": the protocol's mask), and the pixels the ground truth
//       holds above the clip point (max_c >= 1, "gt-over"). PSNR over "sat" per frame, pooled.
//       "boost": the mean log excess over the input on "sat", how bright a row makes the
//       highlights (S falls as it grows, so compare S at similar boost).
//   hdr with display frames (PNG, JPG, video): the frames are the LDR input; no ground truth.
//   color (a colorization model): each frame (top-left crop to multiples of 8) is turned into L
//       and colorized; the ground truth is its own a, b (ab/110). The input row is grey (a = b = 0).
//   sequence (no model): the frames are measured as they are (the log domain for HDR files),
//       against --ref when given (HDR: masks from the reference, "gt-over" and its union).
#pragma once
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/camera.h"
#include "data/sequence.h"
#include "tools/lib/inference.h"

namespace steady {

struct EvalOptions {
  Device device = Device::CPU;
  double fps = 0;         // 0: from the sequence, else 25
  uint64_t seed = 1;      // camera draws (with the sequence's name) and equivariance transforms
  int batch = 8;          // frames per forward pass
  int64_t max_frames = 0, max_side = 0;
  std::string ref;                  // reference sequence (any form)
  double excess_gain = 1.0;         // hdr: scale each model's log output's excess over the input
  int64_t equivariance_every = 8;   // every Nth frame measures the equivariance error (0: off)
  double transform_scale = 1.0;
  std::string out_dir;              // predicted frames (EXR for hdr, PNG) per sequence and model
  std::string report_dir;           // stills, difference images, profiles, per-frame CSV, video
  std::vector<std::pair<int64_t, int64_t>> profile_at;  // pixels (x, y); empty: pick them
  int profile_count = 3;
  int64_t profile_frames = 300;     // profiles record at most this many frames
  bool quiet = false;
};

struct EvalRow {
  std::string name, label;                // "input", "m1", ..., "reference"
  std::map<std::string, double> values;   // by column key (NaN: not defined)
  double value(const std::string& key) const;  // NaN where the row has no such value
};

struct SequenceResult {
  std::string name, source, task;
  int64_t frames = 0, width = 0, height = 0;
  double fps = 0;
  bool has_motion = false, has_reference = false, hdr_frames = false;
  std::optional<CameraParams> camera;  // hdr on HDR frames: the camera drawn for the sequence
  double saturated_share = std::numeric_limits<double>::quiet_NaN();  // of input pixels, over tau
  std::vector<EvalRow> rows;
  nlohmann::json report;  // report-file entries (stills, diff, profile, per-frame CSV, video)
};

struct Column {
  const char* key;
  const char* label;
};
// The measures in table order for a sequence's result (its task, whether an HDR model had HDR
// frames and a camera, whether a reference was given).
std::vector<Column> eval_columns(const SequenceResult& r);

// One HDR frame of the evaluation, the scene exposed once by the sequence's camera: the
// network's input is the same bytes train_hdr's sample path makes of that scene and camera
// (tools/lib/hdr_task.h), the reference is the exposed scene e * scene.
struct HdrEvalFrame {
  Tensor net_input;       // [3,H,W] the camera's LDR image
  Tensor exposed;         // [3,H,W] e * scene, linear
  Tensor input_linear;    // the linearized input x^2 (the input row)
  Tensor input_log, reference_log;  // the input and reference rows in the log domain
  Tensor saturated;       // [1,H,W] input max channel > tau ("sat")
  Tensor over;            // [1,H,W] exposed max channel >= 1 ("gt-over")
};
HdrEvalFrame hdr_eval_frame(const Tensor& scene, const CameraParams& cam);

// The virtual camera of an HDR sequence: one draw per sequence from seed and the sequence's name
// (so every sequence gets its own exposure and curve, the same in every run), the exposure
// percentile pooled over its frames (all of them up to 2^24 values, else an even subsample).
CameraParams sequence_camera(const std::string& spec, const SequenceReadOptions& ropt,
                             uint64_t seed, const SequenceInfo* probed = nullptr);

// The stable name of a sequence spec: its file or folder name without the extension.
std::string sequence_name(const std::string& spec);

// The folder a model's predicted frames go to under --out: "<run folder>_<file stem>".
std::string model_output_name(const std::string& checkpoint);

SequenceResult evaluate_sequence(const std::string& spec, std::vector<LoadedModel>& models,
                                 const EvalOptions& opt);

}  // namespace steady
