#include "engine/tensor_ops.h"

namespace steady {

#define STEADY_DEFINE_BINARY(Op, name) \
  Tensor name(const Tensor& a, const Tensor& b) { return backend_of(a).binary(BinaryOp::Op, a, b); }
STEADY_BINARY_OPS(STEADY_DEFINE_BINARY)
#undef STEADY_DEFINE_BINARY
Tensor scale(const Tensor& x, double s) { return backend_of(x).scale_shift(x, s, 0.0); }
Tensor affine(const Tensor& x, double s, double t) { return backend_of(x).scale_shift(x, s, t); }
Tensor leaky_relu(const Tensor& x, float slope) {
  return backend_of(x).unary(UnaryOp::LeakyRelu, x, slope);
}
#define STEADY_DEFINE_UNARY(Op, name) \
  Tensor name(const Tensor& x) { return backend_of(x).unary(UnaryOp::Op, x, 0.f); }
STEADY_PLAIN_UNARY_OPS(STEADY_DEFINE_UNARY)
#undef STEADY_DEFINE_UNARY
Tensor sum(const Tensor& x) { return backend_of(x).sum(x); }
Tensor max_channels(const Tensor& x) { return backend_of(x).max_channels(x); }
Tensor mul_channels(const Tensor& x, const Tensor& m) { return backend_of(x).mul_channels(x, m); }
Tensor concat_channels(const std::vector<Tensor>& xs) {
  STEADY_CHECK(!xs.empty(), "concat_channels: no inputs");
  return backend_of(xs[0]).concat_channels(xs);
}
Tensor slice_channels(const Tensor& x, int64_t begin, int64_t end) {
  return backend_of(x).slice_channels(x, begin, end);
}

Tensor warp_affine(const Tensor& x, const Tensor& matrix) {
  return backend_of(x).warp_affine_forward(x, matrix);
}

}  // namespace steady
