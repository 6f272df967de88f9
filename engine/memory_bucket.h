// The size classes of the caching allocators (host: engine/cpu/host_allocator.cpp; CUDA:
// engine/cuda/allocator.cpp): 512-byte steps up to 1 MiB, then 1/16 of the enclosing power of
// two, so at most 1/8 of a request is rounding slack and a step's repeated requests of nearly the
// same size share one free list.
#pragma once
#include <cstddef>

#include "engine/error.h"

namespace steady {

inline size_t bucket_size(size_t bytes) {
  constexpr size_t kSmallStep = 512;
  constexpr size_t kSmallLimit = size_t(1) << 20;
  // Far beyond any machine; also keeps the power-of-two search below from overflowing.
  STEADY_CHECK(bytes <= (size_t{1} << 56), "allocation of ", bytes, " bytes is too large");
  if (bytes <= kSmallStep) return kSmallStep;
  if (bytes <= kSmallLimit) return (bytes + kSmallStep - 1) / kSmallStep * kSmallStep;
  size_t pow2 = kSmallLimit;
  while (pow2 < bytes) pow2 <<= 1;
  const size_t step = pow2 / 16;
  return (bytes + step - 1) / step * step;
}

}  // namespace steady
