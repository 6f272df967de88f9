// Argument checks shared by the CUDA backend's ops: every tensor an op reads or writes must be
// defined, on the CUDA device and float32 (the CUDA backend computes in float32 only). Messages
// name the op and the tensor, like the CPU backend's.
#pragma once
#include "engine/tensor.h"

namespace steady {
namespace cuda {

inline void check_cuda_f32(const char* op, const Tensor& t, const char* what) {
  STEADY_CHECK(t.defined(), op, ": ", what, " is undefined");
  STEADY_CHECK(t.device() == Device::CUDA, op, ": ", what, " must be on cuda for the cuda ",
               "backend, got ", t.str());
  STEADY_CHECK(t.dtype() == DType::F32, op, ": the cuda backend computes in f32, ", what, " is ",
               t.str());
}

}  // namespace cuda
}  // namespace steady
