// CudaBackend: every op on one CUDA device, float32. Its memory functions are in
// engine/cuda/runtime.cpp, its kernel hooks (engine/backend_hooks.inc) across kernels/*.cu.
#pragma once
#include "engine/backend.h"

namespace steady {

class CudaBackend final : public Backend {
 public:
  CudaBackend();
  ~CudaBackend() override;
  Device device() const override;
  void* alloc(size_t bytes) override;
  void free(void* ptr, size_t bytes) override;
  void copy(void* dst, Device dst_dev, const void* src, Device src_dev, size_t bytes) override;
  void synchronize() override;
 protected:
#define STEADY_HOOK(signature) signature override;
#include "engine/backend_hooks.inc"
#undef STEADY_HOOK
};

}  // namespace steady
