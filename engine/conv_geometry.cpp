#include "engine/conv_geometry.h"

namespace steady {

namespace {

void check_conv_args(const char* op, const Conv2dArgs& a, bool transposed) {
  STEADY_CHECK(a.stride >= 1, op, ": stride must be >= 1, got ", a.stride);
  STEADY_CHECK(a.pad >= 0, op, ": pad must be >= 0, got ", a.pad);
  if (transposed) {
    STEADY_CHECK(a.output_pad >= 0 && a.output_pad < a.stride, op,
                 ": output_pad must be in [0, stride) = [0, ", a.stride, "), got ", a.output_pad);
  } else {
    STEADY_CHECK(a.output_pad == 0, op, ": output_pad applies to conv_transpose2d only, got ",
                 a.output_pad);
  }
}

}  // namespace

ConvShape conv_shape(const char* op, bool transposed, const Tensor& x, const Tensor& w,
                     const Tensor& b, const Conv2dArgs& a) {
  STEADY_CHECK(x.defined() && w.defined(), op, ": x and w must be defined");
  check_conv_args(op, a, transposed);
  STEADY_CHECK(x.dim() == 4, op, ": x must be [N, C, H, W], got ", x.str());
  STEADY_CHECK(x.numel() > 0, op, ": x ", x.str(), " is empty");
  STEADY_CHECK(w.dim() == 4, op, ": w must be ",
               transposed ? "[Ci, Co, k, k]" : "[Co, Ci, k, k]", ", got ", w.str());
  STEADY_CHECK(w.size(2) == w.size(3) && w.size(2) >= 1, op,
               ": the kernel must be square and non-empty, w is ", w.str());
  STEADY_CHECK(w.numel() > 0, op, ": w ", w.str(), " is empty");
  const int64_t x_channels = x.size(1);
  const int64_t w_in = transposed ? w.size(0) : w.size(1);
  STEADY_CHECK(x_channels == w_in, op, ": x ", x.str(), " has ", x_channels,
               " channels but w ", w.str(), " expects ", w_in);
  const int64_t out_channels = transposed ? w.size(1) : w.size(0);
  if (b.defined()) {
    STEADY_CHECK(b.dim() == 1 && b.size(0) == out_channels, op, ": b must be [", out_channels,
                 "] for w ", w.str(), ", got ", b.str());
  }

  ConvShape g;
  g.batch = x.size(0);
  g.k = w.size(2);
  g.stride = a.stride;
  g.pad = a.pad;
  const int64_t h = x.size(2), wd = x.size(3);
  if (!transposed) {
    g.c_im = x_channels, g.h_im = h, g.w_im = wd;
    g.c_col = out_channels;
    // floor division of a possibly negative numerator
    auto out_size = [&](int64_t in) {
      const int64_t span = in + 2 * g.pad - g.k;
      return span < 0 ? int64_t(0) : span / g.stride + 1;
    };
    g.h_col = out_size(h), g.w_col = out_size(wd);
    STEADY_CHECK(g.h_col > 0 && g.w_col > 0, op, ": output size ", g.h_col, "x", g.w_col,
                 " <= 0 for x ", x.str(), ", kernel ", g.k, ", stride ", g.stride, ", pad ",
                 g.pad);
  } else {
    g.c_col = x_channels, g.h_col = h, g.w_col = wd;
    g.c_im = out_channels;
    g.h_im = (h - 1) * g.stride - 2 * g.pad + g.k + a.output_pad;
    g.w_im = (wd - 1) * g.stride - 2 * g.pad + g.k + a.output_pad;
    STEADY_CHECK(g.h_im > 0 && g.w_im > 0, op, ": output size ", g.h_im, "x", g.w_im,
                 " <= 0 for x ", x.str(), ", kernel ", g.k, ", stride ", g.stride, ", pad ",
                 g.pad, ", output_pad ", a.output_pad);
  }
  return g;
}

void check_conv_grad_output(const char* op, const Tensor& gy, const Shape& expected) {
  STEADY_CHECK(gy.defined() && gy.shape() == expected, op, ": gy ", gy.str(),
               " must have the output shape ", shape_str(expected));
}

}  // namespace steady
