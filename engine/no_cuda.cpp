// Linked instead of engine/cuda/ when the build has no CUDA backend (STEADY_CUDA=OFF or no nvcc).
#include "engine/backend.h"

namespace steady {

bool cuda_built() { return false; }
bool cuda_available() { return false; }
Backend& cuda_backend() {
  fail("this build of Steady has no CUDA backend (configure with -DSTEADY_CUDA=ON)");
}

}  // namespace steady
