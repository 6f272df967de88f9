// float32 convolutions through oneDNN, the CPU counterpart of cuDNN (kernels/conv.cu) and
// what PyTorch runs on the CPU. float64, the reference of the gradient checks, stays on im2col +
// OpenBLAS (kernels/conv.cpp).
//
// The three passes of one plain convolution in conv.cpp's terms: an "image" [N, c_im, h_im,
// w_im] and a "columns" side [N, c_col, h_col, w_col], weights [c_col, c_im, k, k]. conv2d runs
// them image -> columns; conv_transpose2d runs the same passes the other way round. Weights are
// OIHW; the image and columns sides are NCHW, or nChw16c where Sides says so (engine/layout.h),
// which oneDNN's AVX-512 kernels read and write without reordering.
#pragma once
#include "engine/conv_geometry.h"

namespace steady::dnnl_conv {

struct Sides {
  bool image_blocked = false;
  bool columns_blocked = false;
};

// Whether oneDNN takes this geometry (it cannot pad one side negatively, which a transposed
// convolution's output_pad > pad would need: those stay on im2col).
bool supports(const ConvShape& g);
// columns = conv(image, w) + bias (bias may be null)
void forward(const ConvShape& g, Sides sides, const float* image, const float* w,
             const float* bias, float* columns);
// image = the adjoint of forward applied to columns (conv_transpose2d's forward)
void backward_data(const ConvShape& g, Sides sides, const float* w, const float* columns,
                   float* image);
// conv2d's backward: gw, and image_grad = backward_data(columns_grad) unless image_grad is
// null. columns_grad is brought into oneDNN's layout once for both.
void conv_backward(const ConvShape& g, Sides sides, const float* image, const float* w,
                   const float* columns_grad, float* gw, float* image_grad);
// conv_transpose2d's backward (its input x is the columns side, its gy the image side): gw,
// and columns_grad = forward(image_grad) unless columns_grad is null, sharing image_grad's
// reorder.
void transposed_backward(const ConvShape& g, Sides sides, const float* image_grad,
                         const float* w, const float* columns, float* gw, float* columns_grad);

}  // namespace steady::dnnl_conv
