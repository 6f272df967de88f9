// train_hdr: trains the HDR reconstruction autoencoder on a folder of HDR images (.exr, .hdr),
// optionally with one of the paper's temporal regularizers.
//   ./train_hdr data/train --epochs 20 --out runs/base
//   ./train_hdr data/train --init runs/base/last.safetensors --reg jacobian --alpha 0.95 --out runs/jac
// Each sample: a random crop (scaled to --size when the image is larger), a random flip, and
// the virtual camera (data/camera.h) for the LDR input. Target and loss live in the network's
// log domain, log(e * hdr + 1/255), over the saturated pixels (the mask from the exposed ground
// truth), as in the authors' training code.
#include "tools/lib/hdr_task.h"
#include "tools/lib/trainer.h"

using namespace steady;

namespace {

int train_main(int argc, char** argv) {
  HdrTask task;
  return training_main(task, "a folder of HDR images (.exr, .hdr)", argc, argv);
}

}  // namespace

int main(int argc, char** argv) { return run_tool("train_hdr", train_main, argc, argv); }
