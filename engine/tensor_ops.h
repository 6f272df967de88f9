// The tensor algebra: free functions on Tensor with the names of ops.h, computed by the tensor's
// backend, with no autograd. Backward rules, masks, data preparation and tools are written with
// these, so code says `maximum(a, b)` rather than composing backend enums.
#pragma once
#include <vector>

#include "engine/backend.h"

namespace steady {

// add, sub, mul, maximum (NaN from either side, as torch.maximum)
#define STEADY_DECLARE_BINARY(Op, name) Tensor name(const Tensor& a, const Tensor& b);
STEADY_BINARY_OPS(STEADY_DECLARE_BINARY)
#undef STEADY_DECLARE_BINARY
Tensor scale(const Tensor& x, double s);             // s * x
Tensor affine(const Tensor& x, double s, double t);  // s * x + t
Tensor leaky_relu(const Tensor& x, float slope = 0.01f);
#define STEADY_DECLARE_UNARY(Op, name) Tensor name(const Tensor& x);
STEADY_PLAIN_UNARY_OPS(STEADY_DECLARE_UNARY)  // relu, sigmoid, tanh, exp, log, rsqrt
#undef STEADY_DECLARE_UNARY
Tensor sum(const Tensor& x);  // [1]
Tensor max_channels(const Tensor& x);                   // [N,C,...] -> [N,1,...]
Tensor mul_channels(const Tensor& x, const Tensor& m);  // x [N,C,...] * m [N,1,...]
Tensor concat_channels(const std::vector<Tensor>& xs);
Tensor slice_channels(const Tensor& x, int64_t begin, int64_t end);
Tensor warp_affine(const Tensor& x, const Tensor& matrix);  // backend.h: warp_affine_forward

}  // namespace steady
