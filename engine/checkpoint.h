// Checkpoints in the safetensors format (an 8-byte little-endian header length, a JSON header,
// then raw little-endian data), so weights open unchanged in PyTorch (safetensors.torch.load_file)
// and other tools. Tensors are named "param.<name>", "buffer.<name>", "adam.m.<name>",
// "adam.v.<name>"; the header's "__metadata__" holds step, RNG state and the run's config.
// Writes are atomic: a temporary file in the same folder, fsync, rename.
#pragma once
#include <cstdint>
#include <string>

#include "engine/params.h"

namespace steady {

struct CheckpointMeta {
  int64_t step = 0;       // optimizer steps taken
  uint64_t rng_seed = 0, rng_counter = 0;
  std::string config;     // the run's configuration, JSON text
};

// optimizer may be null (weights only).
void save_checkpoint(const std::string& path, const ParamStore& store, const Adam* optimizer,
                     const CheckpointMeta& meta);

// Loads into an already built (finalized) store, checking every name, shape and dtype and
// saying exactly what differs. Adam moments are loaded when optimizer is non-null and the file
// has them. Returns the metadata.
CheckpointMeta load_checkpoint(const std::string& path, ParamStore& store, Adam* optimizer);

// Reads only the metadata (for tools that pick a model from the checkpoint's config).
CheckpointMeta read_checkpoint_meta(const std::string& path);

}  // namespace steady
