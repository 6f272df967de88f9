// CpuBackend: the reference implementation of every op, float32 and float64, with OpenMP.
// Its memory functions are in engine/backend.cpp, its kernel hooks (engine/backend_hooks.inc)
// across kernels/*.cpp, each CPU twin beside its .cu file.
#pragma once
#include "engine/backend.h"

namespace steady {

class CpuBackend final : public Backend {
 public:
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
