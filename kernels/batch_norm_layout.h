// The [N, C, ...] layout batch norm sees, shared by its CPU and CUDA twins: N samples, C
// channels, `plane` elements of one channel of one sample (H*W); a channel's statistics run over
// count() = N * plane values.
#pragma once
#include <cstdint>

#include "engine/tensor.h"

namespace steady {

struct ChannelLayout {
  int64_t n, c, plane;
  int64_t count() const { return n * plane; }
};

inline ChannelLayout channel_layout(const Tensor& x) {
  ChannelLayout l{x.size(0), x.size(1), 1};
  for (int d = 2; d < x.dim(); ++d) l.plane *= x.size(d);
  return l;
}

}  // namespace steady
