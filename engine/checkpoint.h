// Checkpoints in the safetensors format (an 8-byte little-endian header length, a JSON header,
// then raw little-endian data), so weights open unchanged in PyTorch (safetensors.torch.load_file)
// and other tools. Tensors are named "param.<name>", "buffer.<name>", "adam.m.<name>",
// "adam.v.<name>"; the header's "__metadata__" holds step, RNG state and the run's config.
// Writes are atomic: a temporary file in the same folder, fsync, rename.
#pragma once
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

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

// Steps and Adam's step count read from a file must lie in [0, kMaxSteps].
constexpr int64_t kMaxSteps = int64_t{1} << 40;

// JSON from a file (a checkpoint's header, its config): one steady::Error naming `what` when it
// is not JSON or nests deeper than kMaxJsonDepth (deep values overflow the stack when printed
// or destroyed). Print such values with brief_json, which cuts long ones.
constexpr int kMaxJsonDepth = 64;
nlohmann::json parse_untrusted_json(const std::string& text, const std::string& what);
std::string brief_json(const nlohmann::json& value, size_t max_chars = 80);

// The run configuration stored in a checkpoint (an object), and its "task" ("" when absent);
// one error naming the file when the config is broken.
nlohmann::json checkpoint_config(const std::string& path, const CheckpointMeta& meta);
std::string checkpoint_task(const std::string& path, const CheckpointMeta& meta);

}  // namespace steady
