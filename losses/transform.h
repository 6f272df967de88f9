// Random affine transforms of the paper's Table 1, parameterized as in the authors' public
// training code (gabrieleilertsen/hdrcnn, training_code/hdrcnn_train.py); docs/DESIGN.md, "Transforms and losses".
// A transform is stored as its inverse map: a 2x3 matrix per sample such that output pixel
// (x = column, y = row) samples the input at (m0 x + m1 y + m2, m3 x + m4 y + m5).
#pragma once
#include <array>
#include <vector>

#include "engine/rng.h"
#include "engine/tensor.h"

namespace steady {

struct TransformParams {
  double tx = 0, ty = 0;      // translation, pixels
  double r_deg = 0;           // rotation, degrees
  double z = 1;               // zoom
  double hx_deg = 0, hy_deg = 0;  // shear, degrees
};

using AffineMatrix = std::array<double, 6>;

// The inverse map of params for a W x H image (rotation, shear and zoom about the centre).
AffineMatrix transform_matrix(const TransformParams& p, int64_t width, int64_t height);

// One draw: tx, ty ~ U(-2s, 2s) px, r ~ U(-s, s) deg, z ~ U(1 - 0.03s, 1 + 0.03s),
// hx, hy ~ U(-s, s) deg, with s = scale (--transf-scale), in that order from rng.
TransformParams sample_transform(double scale, Rng& rng);

// The [n,6] matrix tensor of given parameters (one per sample), on device in dtype.
Tensor transform_matrices(const std::vector<TransformParams>& params, int64_t width,
                          int64_t height, Device device = Device::CPU, DType dtype = DType::F32);

// n draws as a [n,6] matrix tensor on device (float32 unless asked; float64 on the CPU only).
Tensor random_transform_matrices(int64_t n, int64_t height, int64_t width, double scale, Rng& rng,
                                 Device device, DType dtype = DType::F32);

}  // namespace steady
