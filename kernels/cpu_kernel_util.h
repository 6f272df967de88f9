// Small helpers shared by the CPU twins in kernels/*.cpp (their arguments are checked by the
// entry points of engine/backend.cpp): dispatch from DType to the scalar type, and the element
// count above which a loop is worth OpenMP.
#pragma once
#include <cstdint>
#include <vector>

#include "engine/tensor.h"

namespace steady {
namespace cpu_kernel {

// Below this many elements the OpenMP fork/join costs more than the loop itself.
constexpr int64_t kParallelThreshold = 1 << 15;

// Calls f(T{}) with T = float or double according to dtype; f is a generic lambda that picks
// up T with decltype.
template <class F>
void dispatch(DType dtype, F&& f) {
  if (dtype == DType::F64) {
    f(double{});
  } else {
    f(float{});
  }
}

// A CPU tensor's values as doubles, read in place (not Tensor::to_host, which counts as a host
// synchronization: a CPU kernel reading its own operand is not one).
inline std::vector<double> values(const Tensor& t) {
  std::vector<double> out(static_cast<size_t>(t.numel()));
  dispatch(t.dtype(), [&](auto zero) {
    const auto* p = t.data<decltype(zero)>();
    for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<double>(p[i]);
  });
  return out;
}

}  // namespace cpu_kernel
}  // namespace steady
