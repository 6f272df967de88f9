// The training loop shared by train_hdr and train_color: options, the regularized step fed by
// the batch loader (tools/lib/batch_loader.h), progress on the terminal and a CSV log every
// --log-every steps (the only points where the step's losses are read back), checkpoints each
// epoch and on Ctrl-C, and exact resumption. A TrainTask (tools/lib/train_task.h) supplies what
// differs: the data, the samples and the reconstruction loss.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "engine/ops.h"
#include "models/model.h"
#include "tools/lib/cli.h"
#include "tools/lib/train_task.h"

namespace steady {

// A random square crop of img [C,H,W] (side between size and the short side), scaled to
// size x size, flipped left-right with probability 1/2. what names the image in errors.
Tensor random_square_crop(const Tensor& img, int size, Rng& rng, const std::string& what);

// A training tool's main: its options (`data` says what DATA is, for --help), then a whole
// training (or --summary) for task; returns the exit code.
int training_main(TrainTask& task, const std::string& data, int argc, char** argv);

}  // namespace steady
