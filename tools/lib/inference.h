// Running trained models: loading a checkpoint into the model its config names, and running it
// over frames in chunks. Shared by eval_video and infer.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "models/model.h"
#include "tools/lib/cli.h"

namespace steady {

struct LoadedModel {
  std::string path;
  std::unique_ptr<Model> model;
};

// Reads the task ("hdr" or "color") from the checkpoint's config, builds that model on device
// and loads the weights; every mismatch is one clear error naming the file.
LoadedModel load_model(const std::string& path, Device device);

// Runs model over input frames [Cin,H,W] in chunks; returns its raw outputs [Cout,H,W] on the CPU.
std::vector<Tensor> run_model(Model& model, const std::vector<Tensor>& input, Device device,
                              int chunk);

// The top-left h x w of img [C,H,W] (img itself when nothing is cut): frames cropped to the size
// a network takes.
Tensor crop_top_left(const Tensor& img, int64_t h, int64_t w);

// The options of running a model over frames, shared by infer and eval_video.
struct FrameRunOptions {
  Device device = Device::CPU;
  int batch = 8;           // frames per forward pass
  int64_t max_frames = 0;  // 0: all
  int64_t max_side = 0;    // video files: longer side at most this (0: full size)
};
void add_frame_run_options(Cli& cli);        // --device --batch --max-frames --max-side
FrameRunOptions frame_run_options(const Cli& cli);  // parsed and checked

// Linear HDR frames from the HDR model's log-domain outputs.
std::vector<Tensor> hdr_from_log(const std::vector<Tensor>& log_frames);

}  // namespace steady
