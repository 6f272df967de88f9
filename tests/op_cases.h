// The op-case table: every op of engine/backend.h as rows (in the spirit of ggml's
// test-backend-ops). A row names the backend op it covers, its inputs (shapes and value domains)
// and either a Var-level function (differentiable rows) or a tensor function (forward-only rows:
// ops with no gradient, or whose gradient is not a Var op). The same rows run as
//   - a finite-difference gradient check in float64 on the CPU (tests/test_ops/grad.cpp),
//   - a CUDA-against-CPU check of the forward and of the autograd backward in float32, outputs
//     poisoned with NaN, allocator guard bytes on (tests/gpu_ops/table.cpp),
//   - a timing of forward and backward on each device (tools/bench_ops.cpp --table).
// Hand-written tests remain only for known answers (kernels_reference.cpp, conv_reference.cpp,
// test_warp.cpp, the determinism and running-statistics cases).
#pragma once
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "engine/ops.h"
#include "engine/rng.h"

namespace op_cases {

using namespace steady;

// How an input's values are drawn (always in float64, then cast to the row's dtype).
enum class Domain {
  Uniform,       // uniform in [lo, hi)
  AwayFromZero,  // |x| in [0.1, 1), either sign: away from the kinks of relu-like ops
  Distinct,      // a permutation of 0.01 * i: no ties (max pool windows, maximum)
  Affine,        // [N, 6] near-identity affine maps with fractional offsets (no integer taps)
  Mask,          // [N, 1, H, W] of 0 and 1
};

struct Input {
  Shape shape;
  Domain domain = Domain::Uniform;
  double lo = -1.0, hi = 1.0;
  bool grad = true;  // differentiated (Var rows) and perturbed by the finite differences
};

struct Case {
  std::string ops;   // the backend ops this row runs, space separated (forward and backward)
  std::string name;  // op and variant, unique
  std::vector<Input> inputs;
  std::function<Var(const std::vector<Var>&)> var;                   // differentiable rows
  std::function<std::vector<Tensor>(const std::vector<Tensor>&)> values;  // forward-only rows
  double fd_tol = 1e-7;   // max |numeric - analytic| / max |grad|, float64
  double gpu_tol = 1e-10;  // normalized squared error, CUDA against CPU, float32
};

inline Tensor make_input(const Input& in, Rng& rng) {
  std::vector<double> v(static_cast<size_t>(shape_numel(in.shape)));
  switch (in.domain) {
    case Domain::Uniform:
      for (double& x : v) x = rng.uniform(in.lo, in.hi);
      break;
    case Domain::AwayFromZero:
      for (double& x : v) x = rng.uniform(0.1, 1.0) * (rng.uniform() < 0.5 ? -1.0 : 1.0);
      break;
    case Domain::Distinct:
      for (size_t i = 0; i < v.size(); ++i) v[i] = 0.01 * static_cast<double>(i) - 0.5;
      for (size_t i = v.size() - 1; i > 0; --i) std::swap(v[i], v[rng.below(i + 1)]);
      break;
    case Domain::Affine:
      for (size_t s = 0; s + 6 <= v.size(); s += 6) {
        const double a = rng.uniform(-0.03, 0.03), z = rng.uniform(0.97, 1.03);
        const double m[6] = {z * std::cos(a), -z * std::sin(a), rng.uniform(-2.3, 2.3) + 0.37,
                             z * std::sin(a), z * std::cos(a), rng.uniform(-2.3, 2.3) + 0.29};
        for (int k = 0; k < 6; ++k) v[s + k] = m[k];
      }
      break;
    case Domain::Mask:
      for (double& x : v) x = rng.uniform() < 0.7 ? 1.0 : 0.0;
      break;
  }
  return Tensor::from_vector(v, in.shape);
}

// One row run on the device of its inputs: the forward-only outputs, or the forward output and
// then every differentiated input's gradient of sum(f(inputs) * weights).
inline std::vector<Tensor> run(const Case& c, const std::vector<Tensor>& inputs,
                               const Tensor& weights) {
  if (c.values) return c.values(inputs);
  std::vector<Var> vars;
  for (size_t k = 0; k < inputs.size(); ++k) vars.emplace_back(inputs[k], c.inputs[k].grad);
  Var y = c.var(vars);
  backward(sum(mul(y, Var(weights.to(y.device())))));
  std::vector<Tensor> out{y.value()};
  for (size_t k = 0; k < vars.size(); ++k)
    if (c.inputs[k].grad) out.push_back(vars[k].grad());
  return out;
}

// The output shape of a differentiable row (for the weights of run).
inline Shape output_shape(const Case& c, const std::vector<Tensor>& inputs) {
  NoGradGuard no_grad;
  std::vector<Var> vars;
  for (const Tensor& t : inputs) vars.emplace_back(t, false);
  return c.var(vars).shape();
}

inline Input constant(Shape shape, Domain d = Domain::Uniform, double lo = -1, double hi = 1) {
  return Input{std::move(shape), d, lo, hi, false};
}

inline std::vector<Case> cases() {
  std::vector<Case> t;
  auto row = [&](std::string ops, std::string name, std::vector<Input> in,
                 std::function<Var(const std::vector<Var>&)> f, double gpu_tol = 1e-10) {
    Case c{std::move(ops), std::move(name), std::move(in), std::move(f), nullptr};
    c.gpu_tol = gpu_tol;
    t.push_back(std::move(c));
  };
  auto values_row = [&](std::string ops, std::string name, std::vector<Input> in,
                        std::function<std::vector<Tensor>(const std::vector<Tensor>&)> f) {
    for (Input& i : in) i.grad = false;
    t.push_back(Case{std::move(ops), std::move(name), std::move(in), nullptr, std::move(f)});
  };
  constexpr double kConv = 1e-8;  // cuDNN sums in another order

  // ---- convolution
  struct Conv { int n, ci, co, h, w, k, stride, pad; bool bias; };
  for (Conv c : {Conv{2, 3, 4, 7, 6, 3, 1, 1, true}, Conv{1, 2, 3, 8, 8, 3, 2, 1, true},
                 Conv{2, 2, 2, 5, 7, 1, 1, 0, false}, Conv{1, 3, 2, 9, 9, 3, 2, 2, true},
                 Conv{2, 1, 3, 6, 5, 2, 2, 0, true}}) {
    std::vector<Input> in{{{c.n, c.ci, c.h, c.w}}, {{c.co, c.ci, c.k, c.k}}};
    if (c.bias) in.push_back({{c.co}});
    row("conv2d conv2d_backward", "conv2d k" + std::to_string(c.k) + " s" + std::to_string(c.stride) + " p" +
        std::to_string(c.pad) + (c.bias ? "" : " no bias"), in,
        [c](const std::vector<Var>& v) {
          return conv2d(v[0], v[1], c.bias ? v[2] : Var(), c.stride, c.pad);
        }, kConv);
  }
  struct Deconv { int n, ci, co, h, w, k, stride, pad, out_pad; bool bias; };
  for (Deconv c : {Deconv{2, 3, 2, 4, 5, 3, 2, 1, 1, true}, Deconv{1, 2, 3, 5, 5, 3, 1, 1, 0, true},
                   Deconv{2, 2, 2, 3, 4, 2, 2, 0, 0, false}, Deconv{1, 3, 4, 4, 3, 4, 2, 1, 0, true}}) {
    std::vector<Input> in{{{c.n, c.ci, c.h, c.w}}, {{c.ci, c.co, c.k, c.k}}};
    if (c.bias) in.push_back({{c.co}});
    row("conv_transpose2d conv_transpose2d_backward", "conv_transpose2d k" + std::to_string(c.k) + " s" +
        std::to_string(c.stride) + " p" + std::to_string(c.pad) + " op" +
        std::to_string(c.out_pad) + (c.bias ? "" : " no bias"), in,
        [c](const std::vector<Var>& v) {
          return conv_transpose2d(v[0], v[1], c.bias ? v[2] : Var(), c.stride, c.pad, c.out_pad);
        }, kConv);
  }

  // ---- resampling and layout
  for (auto [k, s, h, w] : {std::tuple{2, 2, 6, 8}, {3, 2, 7, 7}, {2, 1, 5, 4}})
    row("max_pool2d max_pool2d_backward", "max_pool2d k" + std::to_string(k) + " s" + std::to_string(s),
        {{{2, 3, h, w}, Domain::Distinct}},
        [k = k, s = s](const std::vector<Var>& v) { return max_pool2d(v[0], k, s); });
  for (int f : {2, 3})
    row("upsample_nearest2d upsample_nearest2d_backward", "upsample_nearest2d x" + std::to_string(f), {{{2, 3, 4, 5}}},
        [f](const std::vector<Var>& v) { return upsample_nearest2d(v[0], f); });
  for (auto [h, w, oh, ow] : {std::tuple{4, 6, 8, 12}, {8, 8, 4, 4}, {5, 7, 9, 3}, {6, 6, 6, 6}})
    row("resize_bilinear resize_bilinear_backward", "resize_bilinear " + std::to_string(h) + "x" + std::to_string(w) +
        " -> " + std::to_string(oh) + "x" + std::to_string(ow), {{{2, 2, h, w}}},
        [oh = oh, ow = ow](const std::vector<Var>& v) { return resize_bilinear(v[0], oh, ow); });
  row("concat_channels slice_channels", "concat_channels 1+3+2",
      {{{2, 1, 3, 4}}, {{2, 3, 3, 4}}, {{2, 2, 3, 4}}},
      [](const std::vector<Var>& v) { return concat_channels({v[0], v[1], v[2]}); });
  for (auto [b, e] : {std::pair{0, 2}, {1, 4}, {3, 5}})
    row("slice_channels concat_channels", "slice_channels [" + std::to_string(b) + "," + std::to_string(e) + ")",
        {{{2, 5, 3, 3}}},
        [b = b, e = e](const std::vector<Var>& v) { return slice_channels(v[0], b, e); });

  // ---- batch norm (fresh running statistics per call: the forward must not depend on the
  // calls before it)
  auto fresh_state = [](const Var& x) {
    const int64_t c = x.shape()[1];
    return BatchNormState{Tensor::zeros({c}, x.device(), x.value().dtype()),
                          Tensor::full({c}, 1.0, x.device(), x.value().dtype())};
  };
  row("batch_norm_train batch_norm_backward", "batch_norm training", {{{3, 4, 5, 6}, Domain::Uniform, -2, 3},
      {{4}, Domain::Uniform, 0.5, 1.5}, {{4}}},
      [fresh_state](const std::vector<Var>& v) {
        BatchNormState state = fresh_state(v[0]);
        return batch_norm(v[0], v[1], v[2], state, true);
      }, 1e-9);
  row("batch_norm_eval batch_norm_backward", "batch_norm frozen statistics", {{{3, 4, 5, 6}, Domain::Uniform, -2, 3},
      {{4}, Domain::Uniform, 0.5, 1.5}, {{4}}, constant({4}), constant({4}, Domain::Uniform, 0.2, 2)},
      [](const std::vector<Var>& v) {
        const BatchNormState state{v[3].value(), v[4].value()};
        return batch_norm_frozen(v[0], v[1], v[2], state);
      }, 1e-9);

  // ---- elementwise
  const Shape s{2, 3, 4, 5};
  row("binary accumulate", "add", {{s}, {s}}, [](const std::vector<Var>& v) { return add(v[0], v[1]); });
  row("binary", "sub", {{s}, {s}}, [](const std::vector<Var>& v) { return sub(v[0], v[1]); });
  row("binary", "mul", {{s}, {s}}, [](const std::vector<Var>& v) { return mul(v[0], v[1]); });
  row("accumulate", "mul x*x (one Var twice: its gradients accumulate)", {{s}},
      [](const std::vector<Var>& v) { return mul(v[0], v[0]); });
  // Distinct values: no ties between a and b, so no kinks.
  row("binary maximum_backward", "maximum", {{s, Domain::Distinct}, {s, Domain::Distinct}},
      [](const std::vector<Var>& v) { return maximum(v[0], v[1]); });
  row("mul_channels", "mul_channels (constant mask)", {{s}, constant({2, 1, 4, 5}, Domain::Mask)},
      [](const std::vector<Var>& v) { return mul_channels(v[0], v[1].value()); });
  row("scale_shift", "scale_shift", {{{3, 4}}},
      [](const std::vector<Var>& v) { return scale_shift(v[0], 0.5, 3.0); });
  const Shape u{2, 3, 4, 4};
  row("unary unary_backward", "relu", {{u, Domain::AwayFromZero}},
      [](const std::vector<Var>& v) { return relu(v[0]); });
  row("unary unary_backward", "leaky_relu", {{u, Domain::AwayFromZero}},
      [](const std::vector<Var>& v) { return leaky_relu(v[0], 0.2f); });
  row("unary unary_backward", "sigmoid", {{u, Domain::Uniform, -4, 4}},
      [](const std::vector<Var>& v) { return sigmoid(v[0]); });
  row("unary unary_backward", "tanh", {{u, Domain::Uniform, -3, 3}},
      [](const std::vector<Var>& v) { return steady::tanh(v[0]); });
  row("unary unary_backward", "exp", {{u, Domain::Uniform, -2, 2}},
      [](const std::vector<Var>& v) { return steady::exp(v[0]); });
  row("unary unary_backward", "log", {{u, Domain::Uniform, 0.2, 3}},
      [](const std::vector<Var>& v) { return steady::log(v[0]); });
  row("unary unary_backward", "rsqrt", {{u, Domain::Uniform, 0.2, 3}},
      [](const std::vector<Var>& v) { return rsqrt(v[0]); });
  row("sum broadcast_scalar", "sum", {{{2, 3, 5, 7}}},
      [](const std::vector<Var>& v) { return sum(v[0]); });
  row("sum", "mse", {{s}, {s}}, [](const std::vector<Var>& v) { return mse(v[0], v[1]); });
  row("slice_batch", "slice_batch halves of one batch", {{{4, 2, 3, 3}}},
      [](const std::vector<Var>& v) {
        // The two halves of a siamese batch: views whose gradients meet in one tensor.
        const Var both = mul(v[0], v[0]);
        return add(scale(slice_batch(both, 1, 3), 2.0), slice_batch(both, 1, 3));
      });

  // ---- warp and the fused regularization losses
  row("warp_affine_forward warp_affine_backward", "warp_affine", {{{2, 3, 9, 11}}, constant({2, 6}, Domain::Affine)},
      [](const std::vector<Var>& v) { return warp_affine(v[0], v[1].value()); });
  const Shape r{2, 3, 6, 7};
  const char* kinds[] = {"stability", "trans-inv", "jacobian", "augment"};
  for (int k = 0; k < 4; ++k)
    for (bool masked : {false, true}) {
      const RegKind kind = static_cast<RegKind>(k);
      row("reg_loss warp_affine_forward", std::string("reg_loss ") + kinds[k] + (masked ? " masked" : ""),
          {{r}, {r}, constant(r), constant({2, 6}, Domain::Affine), constant({2, 1, 6, 7}, Domain::Mask)},
          [kind, masked](const std::vector<Var>& v) {
            return reg_loss(kind, v[0], v[1], v[2].value(), v[3].value(),
                            masked ? v[4].value() : Tensor());
          });
    }

  // ---- forward-only rows: ops without a gradient (or whose gradient is not a Var op)
  values_row("fill", "fill", {{s}}, [](const std::vector<Tensor>& x) {
    Tensor t = x[0].clone();
    backend_of(t).fill(t, 0.375);
    return std::vector<Tensor>{t};
  });
  values_row("max_channels", "max_channels", {{{2, 3, 4, 5}}},
             [](const std::vector<Tensor>& x) { return std::vector<Tensor>{max_channels(x[0])}; });
  values_row("warp_valid_mask", "warp_valid_mask", {{{3, 6}, Domain::Affine}},
             [](const std::vector<Tensor>& x) {
               return std::vector<Tensor>{backend_of(x[0]).warp_valid_mask(x[0], 3, 7, 9)};
             });
  values_row("adam_step", "adam_step, two updates",
             {{{257}}, {{257}}, {{257}, Domain::Uniform, 0, 0.01}, {{257}, Domain::Uniform, 0, 0.01}},
             [](const std::vector<Tensor>& x) {
               Tensor p = x[0].clone(), m = x[2].clone(), v = x[3].clone();
               Backend& b = backend_of(p);
               AdamArgs a;
               a.lr = 1e-2f, a.weight_decay = 0.01f;
               for (int64_t step = 1; step <= 2; ++step) {
                 a.step = step;
                 b.adam_step(p, x[1], m, v, a);
               }
               return std::vector<Tensor>{p, m, v};
             });
  return t;
}

}  // namespace op_cases
