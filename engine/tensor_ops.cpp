#include "engine/tensor_ops.h"

namespace steady {

Tensor add(const Tensor& a, const Tensor& b) { return backend_of(a).binary(BinaryOp::Add, a, b); }
Tensor sub(const Tensor& a, const Tensor& b) { return backend_of(a).binary(BinaryOp::Sub, a, b); }
Tensor mul(const Tensor& a, const Tensor& b) { return backend_of(a).binary(BinaryOp::Mul, a, b); }
Tensor maximum(const Tensor& a, const Tensor& b) {
  return backend_of(a).binary(BinaryOp::Max, a, b);
}
Tensor scale(const Tensor& x, double s) { return backend_of(x).scale_shift(x, s, 0.0); }
Tensor affine(const Tensor& x, double s, double t) { return backend_of(x).scale_shift(x, s, t); }
Tensor relu(const Tensor& x) { return backend_of(x).unary(UnaryOp::Relu, x, 0.f); }
Tensor leaky_relu(const Tensor& x, float slope) {
  return backend_of(x).unary(UnaryOp::LeakyRelu, x, slope);
}
Tensor sigmoid(const Tensor& x) { return backend_of(x).unary(UnaryOp::Sigmoid, x, 0.f); }
Tensor tanh(const Tensor& x) { return backend_of(x).unary(UnaryOp::Tanh, x, 0.f); }
Tensor exp(const Tensor& x) { return backend_of(x).unary(UnaryOp::Exp, x, 0.f); }
Tensor log(const Tensor& x) { return backend_of(x).unary(UnaryOp::Log, x, 0.f); }
Tensor rsqrt(const Tensor& x) { return backend_of(x).unary(UnaryOp::Rsqrt, x, 0.f); }
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
