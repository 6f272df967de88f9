// The tensor algebra: free functions on Tensor with the names of ops.h, computed by the tensor's
// backend, with no autograd. Backward rules, masks, data preparation and tools are written with
// these, so code says `maximum(a, b)` rather than composing backend enums.
#pragma once
#include <vector>

#include "engine/backend.h"

namespace steady {

Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor maximum(const Tensor& a, const Tensor& b);  // NaN from either side, as torch.maximum
Tensor scale(const Tensor& x, double s);             // s * x
Tensor affine(const Tensor& x, double s, double t);  // s * x + t
Tensor relu(const Tensor& x);
Tensor leaky_relu(const Tensor& x, float slope = 0.01f);
Tensor sigmoid(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor rsqrt(const Tensor& x);  // 1 / sqrt(x)
Tensor sum(const Tensor& x);  // [1]
Tensor max_channels(const Tensor& x);                   // [N,C,...] -> [N,1,...]
Tensor mul_channels(const Tensor& x, const Tensor& m);  // x [N,C,...] * m [N,1,...]
Tensor concat_channels(const std::vector<Tensor>& xs);
Tensor slice_channels(const Tensor& x, int64_t begin, int64_t end);
Tensor warp_affine(const Tensor& x, const Tensor& matrix);  // backend.h: warp_affine_forward

}  // namespace steady
