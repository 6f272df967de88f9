// Running trained models: loading a checkpoint into the model its config names, and running it
// over frames in chunks. Shared by eval_video and infer.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "models/model.h"

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

// Linear HDR frames from the HDR model's log-domain outputs.
std::vector<Tensor> hdr_from_log(const std::vector<Tensor>& log_frames);

}  // namespace steady
