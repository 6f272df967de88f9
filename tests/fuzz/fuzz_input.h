// Shared by the libFuzzer harnesses: the fuzzer's bytes as a file with the name the reader
// dispatches on (readers take paths, as the tools do), in a per-process folder under TMPDIR.
#pragma once
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace steady_fuzz {

inline const std::filesystem::path& folder() {
  static const std::filesystem::path dir = [] {
    const char* tmp = std::getenv("TMPDIR");
    std::filesystem::path d = std::filesystem::path(tmp && *tmp ? tmp : "/tmp") /
                              ("steady_fuzz_" + std::to_string(getpid()));
    std::filesystem::create_directories(d);
    return d;
  }();
  return dir;
}

// Writes data to folder()/name and returns the path.
inline std::string as_file(const std::string& name, const uint8_t* data, size_t size) {
  const std::string path = (folder() / name).string();
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) std::abort();
  if (size > 0 && std::fwrite(data, 1, size, f) != size) std::abort();
  std::fclose(f);
  return path;
}

// Bounds what one decoded image may cost, well below libFuzzer's 2 GB RSS limit (and fast to
// allocate): a larger image is a clean refusal (data/image_io.h), not an out-of-memory finding.
inline void set_budget() { setenv("STEADY_IMAGE_BUDGET_MB", "64", 1); }

}  // namespace steady_fuzz
