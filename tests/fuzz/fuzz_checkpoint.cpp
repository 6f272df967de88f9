// libFuzzer harness: the checkpoint reader (safetensors header JSON, offsets, shapes, dtypes,
// values) on bytes named *.safetensors: read_checkpoint_meta, the task and config lookups the
// tools do, and load_checkpoint into a small parameter store with an optimizer, the layout of
// the seed checkpoint (tests/fuzz/fuzz_seeds.cpp), so mutations get past the name checks.
#include <cstddef>
#include <cstdint>
#include <exception>

#include "engine/checkpoint.h"
#include "tests/fuzz/fuzz_input.h"
#include "tests/fuzz/fuzz_store.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = steady_fuzz::as_file("input.safetensors", data, size);
  try {
    const steady::CheckpointMeta meta = steady::read_checkpoint_meta(path);
    steady::checkpoint_task(path, meta);
    steady::checkpoint_config(path, meta);
  } catch (const std::exception&) {
  }
  try {
    steady_fuzz::Store s;
    steady::load_checkpoint(path, s.params, &s.adam);
  } catch (const std::exception&) {
  }
  return 0;
}
