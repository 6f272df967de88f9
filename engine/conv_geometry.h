// The shape arithmetic and argument checks of conv2d / conv_transpose2d, shared by the CPU
// (im2col) and CUDA (cuDNN) backends so both accept and refuse exactly the same calls.
// A convolution maps an "image" [N, c_im, h_im, w_im] to "columns" [N, c_col, h_col, w_col];
// conv_transpose2d is the same map run backwards (its input is the columns side).
#pragma once
#include <cstdint>

#include "engine/backend.h"

namespace steady {

struct ConvShape {
  int64_t batch = 0;
  int64_t c_im = 0, h_im = 0, w_im = 0;     // image side
  int64_t c_col = 0, h_col = 0, w_col = 0;  // columns side
  int64_t k = 0, stride = 1, pad = 0;

  Shape image_shape() const { return {batch, c_im, h_im, w_im}; }
  Shape columns_shape() const { return {batch, c_col, h_col, w_col}; }
};

// Validates the shapes of x, w (and b when defined) and the arguments, with messages naming op
// and the shapes, and returns the geometry. Device and dtype checks are the backend's.
ConvShape conv_shape(const char* op, bool transposed, const Tensor& x, const Tensor& w,
                     const Tensor& b, const Conv2dArgs& a);

// gy must have the op's output shape.
void check_conv_grad_output(const char* op, const Tensor& gy, const Shape& expected);

}  // namespace steady
