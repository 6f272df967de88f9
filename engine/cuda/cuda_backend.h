// CudaBackend: every op on one CUDA device, float32. Its memory functions are in
// engine/cuda/runtime.cpp, its kernel hooks (engine/backend_hooks.inc) across kernels/*.cu.
#pragma once
#include "engine/backend.h"

namespace steady {

class CudaBackend final : public Backend {
 public:
  CudaBackend();
  ~CudaBackend() override;
#include "engine/backend_overrides.inc"
};

}  // namespace steady
