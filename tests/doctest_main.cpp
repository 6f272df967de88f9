// doctest's main, shared by every test binary. Built a second time with STEADY_GPU_TEST for the
// gpu_* binaries: those exit 77 (ctest: skipped) when no CUDA device is present.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>

#include "engine/backend.h"

int main(int argc, char** argv) {
#ifdef STEADY_GPU_TEST
  if (!steady::cuda_available()) {
    std::printf("no CUDA device: skipping\n");
    return 77;
  }
#endif
  doctest::Context context(argc, argv);
  return context.run();
}
