// The warp's gather adjoint as a launcher other CUDA kernels files reuse (kernels/reg_loss.cu
// applies it to the trans-inv gradient). Defined in kernels/warp.cu.
#pragma once
#include <cstdint>

namespace steady {
namespace cuda {

// gx = sign * W^T gy for float32 [n,c,h,w] device arrays and [n,6] matrices, on the stream.
void warp_adjoint(const float* gy, const float* mats, float* gx, int64_t n, int64_t c,
                  int64_t h, int64_t w, float sign);

}  // namespace cuda
}  // namespace steady
