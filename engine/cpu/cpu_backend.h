// CpuBackend: the reference implementation of every op, float32 and float64, with OpenMP.
// Its memory functions are in engine/backend.cpp, its kernel hooks (engine/backend_hooks.inc)
// across kernels/*.cpp, each CPU twin beside its .cu file.
#pragma once
#include "engine/backend.h"

namespace steady {

class CpuBackend final : public Backend {
#include "engine/backend_overrides.inc"
};

}  // namespace steady
