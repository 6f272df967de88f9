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

// Channel sums over a blocked tensor ([N, C/16, H, W, 16], engine/layout.h): sum[c] = the sum of
// term(at, c) over every element of channel c, at = the element's offset. Each (sample, block)
// adds its plane in position order, its 16 channels side by side (whole cache lines, one
// register chain per channel pair), in parallel; the per-sample sums are then added in sample
// order. The order is fixed by the shape alone, whatever the thread count; it is not the plain
// loops' order, so the two layouts agree to rounding, not bit for bit.
template <class Term>
std::vector<double> blocked_channel_sums(const Tensor& x, Term term) {
  const int64_t n = x.size(0), c = x.size(1), blocks = c / kBlock, plane = x.size(2) * x.size(3);
  std::vector<double> partial(static_cast<size_t>(n * c));
#pragma omp parallel for collapse(2) schedule(static) if (x.numel() > kParallelThreshold)
  for (int64_t i = 0; i < n; ++i)
    for (int64_t b = 0; b < blocks; ++b) {
      const int64_t base = (i * blocks + b) * plane * kBlock;
      double acc[kBlock] = {};
      for (int64_t p = 0; p < plane; ++p)
        for (int64_t l = 0; l < kBlock; ++l) acc[l] += term(base + p * kBlock + l, b * kBlock + l);
      for (int64_t l = 0; l < kBlock; ++l) partial[i * c + b * kBlock + l] = acc[l];
    }
  std::vector<double> sum(static_cast<size_t>(c), 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k < c; ++k) sum[k] += partial[i * c + k];
  return sum;
}

// fn(at, c) for every element of a blocked tensor, in parallel over (sample, block).
template <class Fn>
void blocked_for_each(const Tensor& x, Fn fn) {
  const int64_t n = x.size(0), blocks = x.size(1) / kBlock, plane = x.size(2) * x.size(3);
#pragma omp parallel for collapse(2) schedule(static) if (x.numel() > kParallelThreshold)
  for (int64_t i = 0; i < n; ++i)
    for (int64_t b = 0; b < blocks; ++b) {
      const int64_t base = (i * blocks + b) * plane * kBlock;
      for (int64_t p = 0; p < plane; ++p)
        for (int64_t l = 0; l < kBlock; ++l) fn(base + p * kBlock + l, b * kBlock + l);
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
