// The check that a sequence's stored motion is its true motion, shared by the procedural
// (test_data) and the panned (test_pan) sequences: the warping error of the log frames with the
// stored flow must be below `margin` times the error with no motion, the reversed motion, and
// the motion off by 0.3 px in x or in y.
#pragma once
#include <doctest/doctest.h>

#include <tuple>
#include <vector>

#include "data/metrics.h"
#include "engine/tensor.h"

namespace steady::test {

// Each flow [3, H, W] (dx, dy, valid) scaled by `scale` and shifted by (ox, oy); with
// `all_valid`, the validity plane set to 1 so the metric's own inside-test decides.
inline std::vector<Tensor> altered_flow(const std::vector<Tensor>& flow, double scale, double ox,
                                        double oy, bool all_valid) {
  std::vector<Tensor> out;
  for (const Tensor& f : flow) {
    Tensor z = f.clone();
    float* p = z.data<float>();
    const int64_t plane = f.size(1) * f.size(2);
    for (int64_t q = 0; q < plane; ++q) {
      p[q] = static_cast<float>(p[q] * scale + ox);
      p[plane + q] = static_cast<float>(p[plane + q] * scale + oy);
      if (all_valid) p[2 * plane + q] = 1.0f;
    }
    out.push_back(z);
  }
  return out;
}

inline void check_true_motion_wins(const std::vector<Tensor>& logs, const std::vector<Tensor>& flow,
                                   double truth_error, double margin, bool all_valid) {
  for (auto [scale, ox, oy] : {std::tuple{0.0, 0.0, 0.0}, std::tuple{-1.0, 0.0, 0.0},
                               std::tuple{1.0, 0.3, 0.0}, std::tuple{1.0, 0.0, 0.3}}) {
    const double other = warping_error(logs, altered_flow(flow, scale, ox, oy, all_valid)).error;
    CAPTURE(scale);
    CAPTURE(ox);
    CAPTURE(oy);
    INFO("warping error with the true motion ", truth_error, ", altered ", other);
    CHECK(truth_error < margin * other);
  }
}

}  // namespace steady::test
