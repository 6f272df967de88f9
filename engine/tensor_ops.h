// The tensor algebra: free functions on Tensor with the names of ops.h, computed by the tensor's
// backend, with no autograd. Backward rules, masks, data preparation and tools are written with
// these, so code says `maximum(a, b)` rather than composing backend enums.
#pragma once
#include <vector>

#include "engine/backend.h"

namespace steady {

// The element-wise functions and the sum that this file and ops.h both declare, on STEADY_T
// (Tensor here, Var there): add, sub, mul, maximum; relu, sigmoid, tanh, exp, log, rsqrt;
// leaky_relu; scale (s * x); sum ([1]).
#define STEADY_DECLARE_BINARY_FN(Op, name) STEADY_T name(const STEADY_T& a, const STEADY_T& b);
#define STEADY_DECLARE_UNARY_FN(Op, name) STEADY_T name(const STEADY_T& x);
#define STEADY_DECLARE_ELEMENTWISE                             \
  STEADY_BINARY_OPS(STEADY_DECLARE_BINARY_FN)                  \
  STEADY_PLAIN_UNARY_OPS(STEADY_DECLARE_UNARY_FN)              \
  STEADY_T leaky_relu(const STEADY_T& x, float slope = 0.01f); \
  STEADY_T scale(const STEADY_T& x, double s);                 \
  STEADY_T sum(const STEADY_T& x);

// maximum: NaN from either side, as torch.maximum.
#define STEADY_T Tensor
STEADY_DECLARE_ELEMENTWISE
#undef STEADY_T
Tensor affine(const Tensor& x, double s, double t);  // s * x + t
Tensor max_channels(const Tensor& x);                   // [N,C,...] -> [N,1,...]
Tensor mul_channels(const Tensor& x, const Tensor& m);  // x [N,C,...] * m [N,1,...]
Tensor concat_channels(const std::vector<Tensor>& xs);
Tensor slice_channels(const Tensor& x, int64_t begin, int64_t end);
Tensor warp_affine(const Tensor& x, const Tensor& matrix);  // backend.h: warp_affine_forward

}  // namespace steady
