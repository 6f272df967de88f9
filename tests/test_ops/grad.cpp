// "grad: <op>" cases: every differentiable op's analytic backward against central finite
// differences, all in float64 on the CPU (in the style of ggml's test-backend-ops). The scalar
// checked is sum(f(inputs) * R) with a fixed random R, so every output element contributes.
// Kinks are kept away from: inputs of relu-like ops avoid 0, max-pool windows have no ties,
// warps use non-integer sample points.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>

#include "engine/ops.h"
#include "engine/rng.h"

using namespace steady;

namespace {

Tensor random_f64(const Shape& shape, Rng& rng, double lo = -1.0, double hi = 1.0) {
  std::vector<double> v(shape_numel(shape));
  for (double& x : v) x = rng.uniform(lo, hi);
  return Tensor::from_vector(v, shape);
}

using Fn = std::function<Var(const std::vector<Var>&)>;

double weighted_output(const Fn& f, const std::vector<Tensor>& inputs, const Tensor& weights) {
  NoGradGuard no_grad;
  std::vector<Var> vars;
  for (const Tensor& t : inputs) vars.emplace_back(t, false);
  Var y = f(vars);
  std::vector<double> yv = y.value().to_host(), wv = weights.to_host();
  double s = 0;
  for (size_t i = 0; i < yv.size(); ++i) s += yv[i] * wv[i];
  return s;
}

// Checks d/d(inputs[k]) of sum(f(inputs) * R) for every k in `check` (default: all).
void check_gradients(const Fn& f, std::vector<Tensor> inputs, uint64_t seed,
                     std::vector<size_t> check = {}, double tol = 1e-7) {
  if (check.empty())
    for (size_t k = 0; k < inputs.size(); ++k) check.push_back(k);
  Rng rng(seed);
  std::vector<Var> vars;
  for (const Tensor& t : inputs) vars.emplace_back(t.clone(), true);
  Var y = f(vars);
  Tensor weights = random_f64(y.shape(), rng);
  backward(sum(mul(y, Var(weights))));
  const double h = 1e-6;
  for (size_t k : check) {
    REQUIRE(vars[k].grad().defined());
    std::vector<double> analytic = vars[k].grad().to_host();
    double* p = inputs[k].data<double>();
    double worst = 0, scale = 1e-3;
    for (int64_t i = 0; i < inputs[k].numel(); ++i) {
      double saved = p[i];
      p[i] = saved + h;
      double up = weighted_output(f, inputs, weights);
      p[i] = saved - h;
      double down = weighted_output(f, inputs, weights);
      p[i] = saved;
      double numeric = (up - down) / (2 * h);
      worst = std::max(worst, std::abs(numeric - analytic[i]));
      scale = std::max(scale, std::abs(numeric));
    }
    INFO("input ", k, " ", inputs[k].str(), ": max |numeric - analytic| = ", worst,
         ", max |grad| = ", scale);
    CHECK(worst / scale < tol);
  }
}

// Values in [-1, -0.1] U [0.1, 1]: away from the kinks of relu-like ops.
Tensor away_from_zero(const Shape& shape, Rng& rng) {
  Tensor t = random_f64(shape, rng, 0.1, 1.0);
  double* p = t.data<double>();
  for (int64_t i = 0; i < t.numel(); ++i)
    if (rng.uniform() < 0.5) p[i] = -p[i];
  return t;
}

}  // namespace

TEST_CASE("grad: conv2d") {
  Rng rng(1);
  struct Case { int n, ci, co, h, w, k, stride, pad; bool bias; };
  for (Case c : {Case{2, 3, 4, 7, 6, 3, 1, 1, true}, Case{1, 2, 3, 8, 8, 3, 2, 1, true},
                 Case{2, 2, 2, 5, 7, 1, 1, 0, false}, Case{1, 3, 2, 9, 9, 3, 2, 2, true},
                 Case{2, 1, 3, 6, 5, 2, 2, 0, true}}) {
    CAPTURE(c.k);
    CAPTURE(c.stride);
    CAPTURE(c.pad);
    std::vector<Tensor> in{random_f64({c.n, c.ci, c.h, c.w}, rng),
                           random_f64({c.co, c.ci, c.k, c.k}, rng)};
    if (c.bias) in.push_back(random_f64({c.co}, rng));
    check_gradients([&](const std::vector<Var>& v) {
      return conv2d(v[0], v[1], c.bias ? v[2] : Var(), c.stride, c.pad);
    }, in, 100 + c.k);
  }
}

TEST_CASE("grad: conv_transpose2d") {
  Rng rng(2);
  struct Case { int n, ci, co, h, w, k, stride, pad, out_pad; bool bias; };
  for (Case c : {Case{2, 3, 2, 4, 5, 3, 2, 1, 1, true}, Case{1, 2, 3, 5, 5, 3, 1, 1, 0, true},
                 Case{2, 2, 2, 3, 4, 2, 2, 0, 0, false}, Case{1, 3, 4, 4, 3, 4, 2, 1, 0, true}}) {
    CAPTURE(c.k);
    CAPTURE(c.stride);
    CAPTURE(c.pad);
    CAPTURE(c.out_pad);
    std::vector<Tensor> in{random_f64({c.n, c.ci, c.h, c.w}, rng),
                           random_f64({c.ci, c.co, c.k, c.k}, rng)};
    if (c.bias) in.push_back(random_f64({c.co}, rng));
    check_gradients([&](const std::vector<Var>& v) {
      return conv_transpose2d(v[0], v[1], c.bias ? v[2] : Var(), c.stride, c.pad, c.out_pad);
    }, in, 200 + c.k);
  }
}

TEST_CASE("grad: max_pool2d") {
  Rng rng(3);
  // A random permutation of distinct values: no ties inside a window, so no kinks.
  for (auto [k, s, h, w] : {std::tuple{2, 2, 6, 8}, {3, 2, 7, 7}, {2, 1, 5, 4}}) {
    Shape shape{2, 3, h, w};
    std::vector<double> v(shape_numel(shape));
    for (size_t i = 0; i < v.size(); ++i) v[i] = 0.01 * static_cast<double>(i);
    for (size_t i = v.size() - 1; i > 0; --i) std::swap(v[i], v[rng.below(i + 1)]);
    check_gradients([&](const std::vector<Var>& x) { return max_pool2d(x[0], k, s); },
                    {Tensor::from_vector(v, shape)}, 300);
  }
}

TEST_CASE("grad: upsample_nearest2d") {
  Rng rng(4);
  for (int f : {2, 3})
    check_gradients([&](const std::vector<Var>& x) { return upsample_nearest2d(x[0], f); },
                    {random_f64({2, 3, 4, 5}, rng)}, 400);
}

TEST_CASE("grad: resize_bilinear") {
  Rng rng(5);
  for (auto [h, w, oh, ow] : {std::tuple{4, 6, 8, 12}, {8, 8, 4, 4}, {5, 7, 9, 3}, {6, 6, 6, 6}})
    check_gradients([&](const std::vector<Var>& x) { return resize_bilinear(x[0], oh, ow); },
                    {random_f64({2, 2, h, w}, rng)}, 500);
}

TEST_CASE("grad: concat_channels") {
  Rng rng(6);
  check_gradients([](const std::vector<Var>& v) { return concat_channels({v[0], v[1], v[2]}); },
                  {random_f64({2, 1, 3, 4}, rng), random_f64({2, 3, 3, 4}, rng),
                   random_f64({2, 2, 3, 4}, rng)}, 600);
}

TEST_CASE("grad: slice_channels") {
  Rng rng(7);
  for (auto [b, e] : {std::pair{0, 2}, {1, 4}, {3, 5}})
    check_gradients([&](const std::vector<Var>& v) { return slice_channels(v[0], b, e); },
                    {random_f64({2, 5, 3, 3}, rng)}, 700);
}

TEST_CASE("grad: slice_batch (views of one batch, both used)") {
  Rng rng(17);
  for (auto [b, e] : {std::pair{0, 2}, {1, 3}, {2, 4}})
    check_gradients([&](const std::vector<Var>& v) {
      // The two halves of a siamese batch: each a view, their gradients meet in one tensor.
      Var both = mul(v[0], v[0]);
      return add(scale(slice_batch(both, b, e), 2.0), slice_batch(both, 4 - e, 4 - b));
    }, {random_f64({4, 2, 3, 3}, rng)}, 1700);
  Tensor x = random_f64({4, 2, 3, 3}, rng);
  CHECK(slice_batch(Var(x), 2, 4).value().raw() == static_cast<const char*>(x.raw()) + 2 * 18 * 8);
  CHECK_THROWS_WITH_AS(slice_batch(Var(x), 3, 5), doctest::Contains("slice_batch: samples [3, 5)"),
                       Error);
}

TEST_CASE("grad: batch_norm") {
  Rng rng(8);
  Shape shape{3, 4, 5, 6};
  std::vector<Tensor> in{random_f64(shape, rng, -2, 3), random_f64({4}, rng, 0.5, 1.5),
                         random_f64({4}, rng)};
  check_gradients([&](const std::vector<Var>& v) {
    // Fresh running statistics each call: the forward must not depend on earlier calls.
    BatchNormState state{Tensor::zeros({4}, Device::CPU, DType::F64),
                         Tensor::full({4}, 1.0, Device::CPU, DType::F64)};
    return batch_norm(v[0], v[1], v[2], state, true);
  }, in, 800);
}

TEST_CASE("grad: batch_norm_frozen (running statistics, left as they are)") {
  Rng rng(18);
  Shape shape{3, 4, 5, 6};
  std::vector<Tensor> in{random_f64(shape, rng, -2, 3), random_f64({4}, rng, 0.5, 1.5),
                         random_f64({4}, rng)};
  const Tensor mean = random_f64({4}, rng, -1, 1), var = random_f64({4}, rng, 0.2, 2);
  BatchNormState state{mean.clone(), var.clone()};
  check_gradients([&](const std::vector<Var>& v) { return batch_norm_frozen(v[0], v[1], v[2], state); },
                  in, 1800);
  CHECK(state.running_mean.to_host() == mean.to_host());
  CHECK(state.running_var.to_host() == var.to_host());
  // The forward is eval mode's.
  NoGradGuard no_grad;
  CHECK(batch_norm_frozen(Var(in[0]), Var(in[1]), Var(in[2]), state).value().to_host() ==
        batch_norm(Var(in[0]), Var(in[1]), Var(in[2]), state, false).value().to_host());
}

TEST_CASE("grad: add, sub, mul") {
  Rng rng(9);
  Shape s{2, 3, 4, 5};
  std::vector<Tensor> in{random_f64(s, rng), random_f64(s, rng)};
  check_gradients([](const std::vector<Var>& v) { return add(v[0], v[1]); }, in, 900);
  check_gradients([](const std::vector<Var>& v) { return sub(v[0], v[1]); }, in, 901);
  check_gradients([](const std::vector<Var>& v) { return mul(v[0], v[1]); }, in, 902);
  // The same Var on both sides: x * x.
  check_gradients([](const std::vector<Var>& v) { return mul(v[0], v[0]); }, {in[0]}, 903);
}

TEST_CASE("grad: scale") {
  Rng rng(10);
  check_gradients([](const std::vector<Var>& v) { return scale(v[0], -2.5); },
                  {random_f64({3, 4}, rng)}, 1000);
  check_gradients([](const std::vector<Var>& v) { return scale_shift(v[0], 0.5, 3.0); },
                  {random_f64({3, 4}, rng)}, 1001);
}

TEST_CASE("grad: relu") {
  Rng rng(11);
  check_gradients([](const std::vector<Var>& v) { return relu(v[0]); },
                  {away_from_zero({2, 3, 4, 4}, rng)}, 1100);
}

TEST_CASE("grad: leaky_relu") {
  Rng rng(12);
  check_gradients([](const std::vector<Var>& v) { return leaky_relu(v[0], 0.2f); },
                  {away_from_zero({2, 3, 4, 4}, rng)}, 1200);
}

TEST_CASE("grad: sigmoid") {
  Rng rng(13);
  check_gradients([](const std::vector<Var>& v) { return sigmoid(v[0]); },
                  {random_f64({2, 3, 4, 4}, rng, -4, 4)}, 1300);
}

TEST_CASE("grad: tanh") {
  Rng rng(14);
  check_gradients([](const std::vector<Var>& v) { return steady::tanh(v[0]); },
                  {random_f64({2, 3, 4, 4}, rng, -3, 3)}, 1400);
}

TEST_CASE("grad: exp") {
  Rng rng(15);
  check_gradients([](const std::vector<Var>& v) { return steady::exp(v[0]); },
                  {random_f64({2, 3, 4, 4}, rng, -2, 2)}, 1500);
}

TEST_CASE("grad: log") {
  Rng rng(16);
  check_gradients([](const std::vector<Var>& v) { return steady::log(v[0]); },
                  {random_f64({2, 3, 4, 4}, rng, 0.2, 3)}, 1600);
}

TEST_CASE("grad: sum") {
  Rng rng(17);
  check_gradients([](const std::vector<Var>& v) { return sum(v[0]); },
                  {random_f64({2, 3, 5, 7}, rng)}, 1700);
}

TEST_CASE("grad: mean") {
  Rng rng(18);
  check_gradients([](const std::vector<Var>& v) { return mean(v[0]); },
                  {random_f64({2, 3, 5, 7}, rng)}, 1800);
}

TEST_CASE("grad: mse") {
  Rng rng(19);
  check_gradients([](const std::vector<Var>& v) { return mse(v[0], v[1]); },
                  {random_f64({2, 3, 4, 5}, rng), random_f64({2, 3, 4, 5}, rng)}, 1900);
}

TEST_CASE("grad: warp_affine") {
  Rng rng(20);
  // Near-identity maps with fractional offsets: sample points never sit on integer
  // coordinates, where bilinear interpolation has a kink.
  std::vector<double> m;
  for (int i = 0; i < 2; ++i) {
    double a = rng.uniform(-0.03, 0.03), z = rng.uniform(0.97, 1.03);
    m.insert(m.end(), {z * std::cos(a), -z * std::sin(a), rng.uniform(-2.3, 2.3) + 0.37,
                       z * std::sin(a), z * std::cos(a), rng.uniform(-2.3, 2.3) + 0.29});
  }
  Tensor matrix = Tensor::from_vector(m, {2, 6});
  check_gradients([&](const std::vector<Var>& v) { return warp_affine(v[0], matrix); },
                  {random_f64({2, 3, 9, 11}, rng)}, 2000);
}
