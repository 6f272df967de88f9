// The shape arithmetic and argument checks of conv2d / conv_transpose2d, shared by the CPU
// (im2col) and CUDA (cuDNN) backends so both accept and refuse exactly the same calls.
#pragma once
#include <cstdint>

#include "engine/backend.h"

namespace steady {

// Validates the shapes of x, w (and b when defined) and the arguments, with messages naming op
// and the shapes, and returns the geometry. Device and dtype checks are the backend's.
ConvShape conv_shape(const char* op, bool transposed, const Tensor& x, const Tensor& w,
                     const Tensor& b, const Conv2dArgs& a);

// gy must have the op's output shape.
void check_conv_grad_output(const char* op, const Tensor& gy, const Shape& expected);

}  // namespace steady
