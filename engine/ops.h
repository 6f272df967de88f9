// The differentiable op set: each function computes its value through backend(device) and
// records how to push gradients back. These are what models and losses are written with.
#pragma once
#include <vector>

#include "engine/autograd.h"
#include "engine/backend.h"
#include "engine/tensor_ops.h"

namespace steady {

// Running statistics of one batch-norm layer; they live in the model's buffer store.
struct BatchNormState {
  Tensor running_mean, running_var;  // [C]
  float momentum = 0.1f, eps = 1e-5f;
};

Var conv2d(const Var& x, const Var& w, const Var& b, int stride = 1, int pad = 0);
Var conv_transpose2d(const Var& x, const Var& w, const Var& b, int stride = 1, int pad = 0,
                     int output_pad = 0);
Var max_pool2d(const Var& x, int k, int stride);
Var upsample_nearest2d(const Var& x, int factor);
Var resize_bilinear(const Var& x, int out_h, int out_w);
Var concat_channels(const std::vector<Var>& xs);
Var reshape(const Var& x, const Shape& shape);  // shares storage; numel must match
Var slice_channels(const Var& x, int64_t begin, int64_t end);
// Samples [begin, end) of a contiguous batch x [N,...]: a view, no copy either way.
Var slice_batch(const Var& x, int64_t begin, int64_t end);
// training: batch statistics, updates state's running statistics; else running statistics.
// Batch norm with frozen statistics: the running mean and variance normalize (as in eval mode)
// and stay as they are, while gamma, beta and x get their gradients of that fixed affine map:
// fine-tuning's alternative to batch statistics (train_* --bn frozen).
Var batch_norm_frozen(const Var& x, const Var& gamma, const Var& beta, const BatchNormState& state);
Var batch_norm(const Var& x, const Var& gamma, const Var& beta, BatchNormState& state,
               bool training);

// tensor_ops.h's list (add ... sum) on Var; maximum's gradient splits ties evenly, as
// torch.maximum's.
#define STEADY_T Var
STEADY_DECLARE_ELEMENTWISE
#undef STEADY_T
// x [N,C,H,W] times the constant m [N,1,H,W] broadcast over channels (a mask)
Var mul_channels(const Var& x, const Tensor& m);
Var scale_shift(const Var& x, double s, double t);  // s * x + t
Var mean(const Var& x);  // [1]
Var mse(const Var& a, const Var& b);  // mean((a - b)^2), [1]

// Bilinear affine warp per sample (matrix [N,6], a constant); gradient through the exact adjoint.
Var warp_affine(const Var& x, const Tensor& matrix);

// The fused regularization loss of backend.h (RegKind) as a differentiable op of fx and ftx; y,
// matrix and mask are constants. The kernel computes both gradients with the value; backward
// only scales them by the upstream gradient.
Var reg_loss(RegKind kind, const Var& fx, const Var& ftx, const Tensor& y, const Tensor& matrix,
             const Tensor& mask);

}  // namespace steady
