// Small helpers shared by the CPU twins in kernels/*.cpp (their arguments are checked by the
// entry points of engine/backend.cpp): dispatch from DType to the scalar type, the element
// count above which a loop is worth OpenMP, and a vectorizing deterministic sum.
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

// Sums term(i) for i in [0, n) in double over kLanes interleaved partial sums, added in lane order
// at the end: the lanes are independent chains, so the loop vectorizes (one dependent chain of
// additions runs at one add per four cycles: two thirds of batch norm's time before), and the
// order of additions is fixed by n alone, whatever the thread count.
constexpr int kLanes = 8;
template <class Term>
double lane_sum(int64_t n, Term term) {
  double lane[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int j = 0; j < kLanes; ++j) lane[j] += term(i + j);
  for (int j = 0; i < n; ++i, ++j) lane[j] += term(i);
  double s = 0.0;
  for (int j = 0; j < kLanes; ++j) s += lane[j];
  return s;
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
