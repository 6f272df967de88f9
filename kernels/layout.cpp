// Layout conversion between plain NCHW and Blocked16 ([N, C/16, H, W, 16]) on the CPU, and the
// scope that turns blocked convolution outputs on (engine/layout.h). The conversion is a pure
// permutation of elements (no arithmetic). Tested in tests/test_ops/kernels_reference.cpp
// (round trip and element positions) and by the layout-equivalence training test.
#include "engine/layout.h"

#include <atomic>
#include <cstdlib>
#include <string>

#include "engine/error.h"

namespace steady {

namespace {
thread_local bool t_scope_active = false;
// STEADY_BLOCKED=0 starts the process with the switch off (to compare, or to rule the layout out).
bool enabled_at_start() {
  const char* v = std::getenv("STEADY_BLOCKED");
  return !(v && std::string(v) == "0");
}
std::atomic<bool> g_blocked_enabled{enabled_at_start()};
}  // namespace

BlockedLayoutScope::BlockedLayoutScope(const Tensor& input) : previous_(t_scope_active) {
  t_scope_active = input.device() == Device::CPU && input.dtype() == DType::F32;
}
BlockedLayoutScope::~BlockedLayoutScope() { t_scope_active = previous_; }

void set_blocked_layout(bool on) { g_blocked_enabled = on; }

bool blocked_output(const Tensor& x, int64_t channels) {
  return t_scope_active && g_blocked_enabled && x.device() == Device::CPU &&
         x.dtype() == DType::F32 && channels % kBlock == 0;
}

Tensor relayout(const Tensor& t, Layout to) {
  if (t.layout() == to) return t;
  STEADY_CHECK(t.dim() == 4 && t.device() == Device::CPU && t.dtype() == DType::F32 &&
                   t.size(1) % kBlock == 0,
               "relayout: ", t.str(), " cannot change layout");
  const int64_t n = t.size(0), cb = t.size(1) / kBlock, plane = t.size(2) * t.size(3);
  Tensor out = to == Layout::Blocked16 ? Tensor::empty_blocked(t.shape())
                                       : Tensor::empty(t.shape(), Device::CPU, DType::F32);
  const float* src = t.data_any_layout<float>();
  float* dst = out.data_any_layout<float>();
  // One block: 16 planes of the plain tensor against one [plane, 16] run of the blocked one.
  const bool to_blocked = to == Layout::Blocked16;
#pragma omp parallel for collapse(2) schedule(static) if (t.numel() > (1 << 15))
  for (int64_t i = 0; i < n; ++i)
    for (int64_t b = 0; b < cb; ++b) {
      const int64_t base = (i * cb + b) * plane * kBlock;
      const float* s = src + base;
      float* d = dst + base;
      if (to_blocked) {
        for (int64_t p = 0; p < plane; ++p)
          for (int64_t l = 0; l < kBlock; ++l) d[p * kBlock + l] = s[l * plane + p];
      } else {
        for (int64_t l = 0; l < kBlock; ++l)
          for (int64_t p = 0; p < plane; ++p) d[l * plane + p] = s[p * kBlock + l];
      }
    }
  return out;
}

}  // namespace steady
