// Var-level ops: forward through the backend, backward as a closure over what it needs.
#include "engine/ops.h"

namespace steady {

namespace {
Backend& be(const Var& v) { return backend_of(v.value()); }
Node& in(Node& self, size_t i) { return *self.inputs[i]; }
}  // namespace

namespace {

// conv2d, or conv_transpose2d when `transposed`: the two differ only in the backend calls.
Var conv(bool transposed, const Var& x, const Var& w, const Var& b, Conv2dArgs a) {
  const Tensor bias = b.defined() ? b.value() : Tensor();
  Tensor y = transposed ? be(x).conv_transpose2d(x.value(), w.value(), bias, a)
                        : be(x).conv2d(x.value(), w.value(), bias, a);
  const bool has_bias = b.defined();
  std::vector<Var> inputs{x, w};
  if (has_bias) inputs.push_back(b);
  const char* name = transposed ? "conv_transpose2d" : "conv2d";
  return Var::make(y, name, inputs, [transposed, a, has_bias](Node& self) {
    const ConvGradsNeeded need{in(self, 0).requires_grad, has_bias};
    const Tensor &x = in(self, 0).value, &w = in(self, 1).value;
    Backend& backend = backend_of(self.grad);
    ConvGrads g = transposed ? backend.conv_transpose2d_backward(x, w, need, self.grad, a)
                             : backend.conv2d_backward(x, w, need, self.grad, a);
    accumulate_grad(in(self, 0), g.grad_x);
    accumulate_grad(in(self, 1), g.grad_w);
    if (has_bias) accumulate_grad(in(self, 2), g.grad_b);
  });
}

}  // namespace

Var conv2d(const Var& x, const Var& w, const Var& b, int stride, int pad) {
  return conv(false, x, w, b, Conv2dArgs{stride, pad, 0});
}

Var conv_transpose2d(const Var& x, const Var& w, const Var& b, int stride, int pad,
                     int output_pad) {
  return conv(true, x, w, b, Conv2dArgs{stride, pad, output_pad});
}

Var max_pool2d(const Var& x, int k, int stride) {
  Tensor y = be(x).max_pool2d(x.value(), k, stride);
  return Var::make(y, "max_pool2d", {x}, [k, stride](Node& self) {
    accumulate_grad(in(self, 0), backend_of(self.grad).max_pool2d_backward(
                                     in(self, 0).value, self.grad, k, stride));
  });
}

Var upsample_nearest2d(const Var& x, int factor) {
  Tensor y = be(x).upsample_nearest2d(x.value(), factor);
  return Var::make(y, "upsample_nearest2d", {x}, [factor](Node& self) {
    accumulate_grad(in(self, 0),
                    backend_of(self.grad).upsample_nearest2d_backward(self.grad, factor));
  });
}

Var resize_bilinear(const Var& x, int out_h, int out_w) {
  Tensor y = be(x).resize_bilinear(x.value(), out_h, out_w);
  int in_h = static_cast<int>(x.value().size(2)), in_w = static_cast<int>(x.value().size(3));
  return Var::make(y, "resize_bilinear", {x}, [in_h, in_w](Node& self) {
    accumulate_grad(in(self, 0),
                    backend_of(self.grad).resize_bilinear_backward(self.grad, in_h, in_w));
  });
}

Var concat_channels(const std::vector<Var>& xs) {
  STEADY_CHECK(!xs.empty(), "concat_channels: no inputs");
  std::vector<Tensor> values;
  for (const Var& v : xs) values.push_back(v.value());
  Tensor y = be(xs[0]).concat_channels(values);
  return Var::make(y, "concat_channels", xs, [](Node& self) {
    int64_t begin = 0;
    for (auto& input : self.inputs) {
      int64_t c = input->value.size(1);
      if (input->requires_grad)
        accumulate_grad(*input, backend_of(self.grad).slice_channels(self.grad, begin, begin + c));
      begin += c;
    }
  });
}

Var reshape(const Var& x, const Shape& shape) {
  Shape original = x.shape();
  return Var::make(x.value().reshape(shape), "reshape", {x}, [original](Node& self) {
    accumulate_grad(in(self, 0), self.grad.reshape(original));
  });
}

Var slice_batch(const Var& x, int64_t begin, int64_t end) {
  const Shape& s = x.shape();
  STEADY_CHECK(!s.empty() && begin >= 0 && begin < end && end <= s[0], "slice_batch: samples [",
               begin, ", ", end, ") of ", x.value().str());
  Shape part = s;
  part[0] = end - begin;
  const int64_t offset = begin * (shape_numel(s) / s[0]);
  Tensor y = x.value().view(offset, part);
  return Var::make(y, "slice_batch", {x}, [offset](Node& self) {
    accumulate_grad_slice(in(self, 0), offset, self.grad);
  });
}

Var slice_channels(const Var& x, int64_t begin, int64_t end) {
  Tensor y = be(x).slice_channels(x.value(), begin, end);
  return Var::make(y, "slice_channels", {x}, [begin, end](Node& self) {
    Node& src = in(self, 0);
    // Scatter back: zeros around the slice, built as a concat of the three parts.
    const Shape& s = src.value.shape();
    Backend& b = backend_of(self.grad);
    std::vector<Tensor> parts;
    if (begin > 0)
      parts.push_back(Tensor::zeros({s[0], begin, s[2], s[3]}, self.grad.device(), self.grad.dtype()));
    parts.push_back(self.grad);
    if (end < s[1])
      parts.push_back(Tensor::zeros({s[0], s[1] - end, s[2], s[3]}, self.grad.device(), self.grad.dtype()));
    accumulate_grad(src, parts.size() == 1 ? self.grad : b.concat_channels(parts));
  });
}

Var batch_norm_frozen(const Var& x, const Var& gamma, const Var& beta, const BatchNormState& state) {
  Backend& b = be(x);
  Tensor y = b.batch_norm_eval(x.value(), gamma.value(), beta.value(), state.running_mean,
                               state.running_var, state.eps);
  return Var::make(y, "batch_norm_frozen", {x, gamma, beta}, [state](Node& self) {
    Backend& bk = backend_of(self.grad);
    const Tensor& g = in(self, 1).value;
    // y = gamma (x - mean) invstd + beta, mean and invstd constants:
    //   gx = gamma invstd gy (the same map without the shift), and from batch_norm_backward
    //   with the running statistics as the saved ones, g_gamma = sum(gy xhat), g_beta = sum(gy)
    //   (its gx, with the batch-statistics terms, is not this one).
    Tensor zeros = Tensor::zeros(g.shape(), g.device(), g.dtype());
    accumulate_grad(in(self, 0), bk.batch_norm_eval(self.grad, g, zeros, zeros, state.running_var,
                                                    state.eps));
    BatchNormSaved saved;
    saved.mean = state.running_mean;
    saved.invstd = rsqrt(affine(state.running_var, 1.0, state.eps));
    Tensor gg, gb;
    bk.batch_norm_backward(in(self, 0).value, g, saved, self.grad, gg, gb);
    accumulate_grad(in(self, 1), gg);
    accumulate_grad(in(self, 2), gb);
  });
}

Var batch_norm(const Var& x, const Var& gamma, const Var& beta, BatchNormState& state,
               bool training) {
  if (!training) {
    // Eval mode is for inference; a gradient through it would silently miss the parameters.
    STEADY_CHECK(!grad_enabled() || !(x.requires_grad() || gamma.requires_grad()),
                 "batch_norm: eval mode records no gradient; use it under NoGradGuard");
    return Var(be(x).batch_norm_eval(x.value(), gamma.value(), beta.value(), state.running_mean,
                                     state.running_var, state.eps));
  }
  BatchNormSaved saved;
  Tensor y = be(x).batch_norm_train(x.value(), gamma.value(), beta.value(), state.running_mean,
                                    state.running_var, state.momentum, state.eps, saved);
  return Var::make(y, "batch_norm", {x, gamma, beta}, [saved](Node& self) {
    Tensor gg, gb;
    Tensor gx = backend_of(self.grad).batch_norm_backward(in(self, 0).value, in(self, 1).value,
                                                          saved, self.grad, gg, gb);
    accumulate_grad(in(self, 0), gx);
    accumulate_grad(in(self, 1), gg);
    accumulate_grad(in(self, 2), gb);
  });
}

namespace {
Var binary_op(BinaryOp op, const Var& a, const Var& b) {
  const char* name = op_name(op);
  check_same_shape(name, a.value(), b.value());
  Tensor y = be(a).binary(op, a.value(), b.value());
  return Var::make(y, name, {a, b}, [op](Node& self) {
    Node& na = in(self, 0);
    Node& nb = in(self, 1);
    switch (op) {
      case BinaryOp::Add:
        accumulate_grad(na, self.grad);
        accumulate_grad(nb, self.grad);
        break;
      case BinaryOp::Sub:
        accumulate_grad(na, self.grad);
        if (nb.requires_grad) accumulate_grad(nb, scale(self.grad, -1.0));
        break;
      case BinaryOp::Mul:
        if (na.requires_grad) accumulate_grad(na, mul(self.grad, nb.value));
        if (nb.requires_grad) accumulate_grad(nb, mul(self.grad, na.value));
        break;
      case BinaryOp::Max: {
        Tensor ga, gb;
        backend_of(self.grad).maximum_backward(na.value, nb.value, self.grad, ga, gb);
        accumulate_grad(na, ga);
        accumulate_grad(nb, gb);
        break;
      }
    }
  });
}

Var unary_op(UnaryOp op, const Var& x, float slope) {
  Tensor y = be(x).unary(op, x.value(), slope);
  // Sigmoid, tanh and exp differentiate through y; relu, leaky_relu and log through x.
  return Var::make(y, op_name(op), {x}, [op, slope, y](Node& self) {
    accumulate_grad(in(self, 0), backend_of(self.grad).unary_backward(op, in(self, 0).value, y,
                                                                      self.grad, slope));
  });
}
}  // namespace

#define STEADY_DEFINE_BINARY(Op, name) \
  Var name(const Var& a, const Var& b) { return binary_op(BinaryOp::Op, a, b); }
STEADY_BINARY_OPS(STEADY_DEFINE_BINARY)
#undef STEADY_DEFINE_BINARY

Var mul_channels(const Var& x, const Tensor& m) {
  return Var::make(mul_channels(x.value(), m), "mul_channels", {x}, [m](Node& self) {
    accumulate_grad(in(self, 0), mul_channels(self.grad, m));
  });
}

Var scale_shift(const Var& x, double s, double t) {
  Tensor y = be(x).scale_shift(x.value(), s, t);
  return Var::make(y, "scale_shift", {x}, [s](Node& self) {
    accumulate_grad(in(self, 0), scale(self.grad, s));
  });
}
Var scale(const Var& x, double s) { return scale_shift(x, s, 0.0); }

Var leaky_relu(const Var& x, float slope) { return unary_op(UnaryOp::LeakyRelu, x, slope); }
#define STEADY_DEFINE_UNARY(Op, name) \
  Var name(const Var& x) { return unary_op(UnaryOp::Op, x, 0.f); }
STEADY_PLAIN_UNARY_OPS(STEADY_DEFINE_UNARY)
#undef STEADY_DEFINE_UNARY

Var sum(const Var& x) {
  Tensor y = be(x).sum(x.value());
  Shape shape = x.shape();
  return Var::make(y, "sum", {x}, [shape](Node& self) {
    accumulate_grad(in(self, 0), backend_of(self.grad).broadcast_scalar(self.grad, shape, 1.0));
  });
}

Var mean(const Var& x) { return scale(sum(x), 1.0 / static_cast<double>(x.value().numel())); }

Var mse(const Var& a, const Var& b) {
  Var d = sub(a, b);
  return mean(mul(d, d));
}

Var warp_affine(const Var& x, const Tensor& matrix) {
  Tensor y = be(x).warp_affine_forward(x.value(), matrix);
  return Var::make(y, "warp_affine", {x}, [matrix](Node& self) {
    accumulate_grad(in(self, 0), backend_of(self.grad).warp_affine_backward(self.grad, matrix));
  });
}

Var reg_loss(RegKind kind, const Var& fx, const Var& ftx, const Tensor& y, const Tensor& matrix,
             const Tensor& mask) {
  RegLoss r = be(fx).reg_loss(kind, fx.value(), ftx.value(), y, matrix, mask);
  Tensor gfx = r.grad_fx, gftx = r.grad_ftx;
  return Var::make(r.loss, "reg_loss", {fx, ftx}, [gfx, gftx](Node& self) {
    // Scale by the upstream gradient without leaving the device (no host sync).
    Tensor up = backend_of(self.grad).broadcast_scalar(self.grad, gfx.shape(), 1.0);
    if (in(self, 0).requires_grad) accumulate_grad(in(self, 0), mul(up, gfx));
    if (in(self, 1).requires_grad) accumulate_grad(in(self, 1), mul(up, gftx));
  });
}

}  // namespace steady
