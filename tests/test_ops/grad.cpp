// The op-case table (tests/op_cases.h) as finite-difference gradient checks: every
// differentiable row's analytic backward against central differences, all in float64 on the
// CPU. The scalar checked is sum(f(inputs) * R) with a fixed random R, so every output element
// contributes. The table's domains keep inputs away from kinks (relu-like ops avoid 0, max-pool
// windows and maximum have no ties, warps use non-integer sample points). Forward-only rows are
// known-answer-tested in kernels_reference.cpp. Below the table, the hand-written known answers
// of slice_batch (a view) and batch_norm_frozen (running statistics left as they are).
#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <functional>
#include <regex>
#include <set>
#include <sstream>

#include "engine/ops.h"
#include "engine/rng.h"
#include "tests/op_cases.h"

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

// Checks d/d(inputs[k]) of sum(f(inputs) * R) for every k in `check`.
void check_gradients(const Fn& f, std::vector<Tensor> inputs, uint64_t seed,
                     const std::vector<size_t>& check, double tol) {
  Rng rng(seed);
  std::vector<Var> vars;
  for (size_t k = 0; k < inputs.size(); ++k) {
    const bool grad = std::find(check.begin(), check.end(), k) != check.end();
    vars.emplace_back(inputs[k].clone(), grad);
  }
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

}  // namespace

TEST_CASE("grad: every differentiable row of the op-case table") {
  int checked = 0;
  for (const op_cases::Case& c : op_cases::cases()) {
    if (!c.var) continue;
    SUBCASE(c.name.c_str()) {
      Rng rng(std::hash<std::string>{}(c.name));
      std::vector<Tensor> inputs;
      std::vector<size_t> check;
      for (size_t k = 0; k < c.inputs.size(); ++k) {
        inputs.push_back(op_cases::make_input(c.inputs[k], rng));
        if (c.inputs[k].grad) check.push_back(k);
      }
      REQUIRE(!check.empty());
      check_gradients(c.var, inputs, rng.below(1u << 30), check, c.fd_tol);
    }
    ++checked;
  }
  CHECK(checked >= 40);
}

TEST_CASE("op-case table: every row runs in float32 as the CUDA check runs it, finite, twice alike") {
  // The harness of tests/gpu_ops/table.cpp on the CPU alone: a row that cannot run in float32,
  // gives non-finite values or is not repeatable would fail there for reasons of its own.
  for (const op_cases::Case& c : op_cases::cases()) {
    CAPTURE(c.name);
    Rng rng(std::hash<std::string>{}(c.name));
    std::vector<Tensor> inputs;
    for (const op_cases::Input& in : c.inputs)
      inputs.push_back(op_cases::make_input(in, rng).to(DType::F32));
    const Tensor weights =
        c.var ? op_cases::make_input({op_cases::output_shape(c, inputs)}, rng).to(DType::F32)
              : Tensor();
    const std::vector<Tensor> first = op_cases::run(c, inputs, weights);
    const std::vector<Tensor> second = op_cases::run(c, inputs, weights);
    REQUIRE(first.size() == second.size());
    for (size_t i = 0; i < first.size(); ++i) {
      const std::vector<double> a = first[i].to_host(), b = second[i].to_host();
      for (double v : a) REQUIRE(std::isfinite(v));
      CHECK(a == b);
    }
  }
}

TEST_CASE("op-case table: every op of the backend has a row") {
  // The op list is the hook list, engine/backend_hooks.inc (one line per op).
  std::ifstream in(STEADY_TEST_DATA "/../../engine/backend_hooks.inc");
  REQUIRE(in.good());
  std::stringstream text;
  text << in.rdbuf();
  const std::string src = text.str();
  std::set<std::string> covered;
  std::set<std::string> names;
  for (const op_cases::Case& c : op_cases::cases()) {
    CHECK_MESSAGE(names.insert(c.name).second, "two rows named ", c.name);
    std::istringstream ops(c.ops);
    for (std::string op; ops >> op;) covered.insert(op);
  }
  const std::regex hook(R"(STEADY_HOOK\(void (\w+)_impl\()");
  int hooks = 0;
  for (auto it = std::sregex_iterator(src.begin(), src.end(), hook); it != std::sregex_iterator();
       ++it, ++hooks) {
    const std::string op = (*it)[1];
    CHECK_MESSAGE(covered.count(op) == 1, "no row of tests/op_cases.h runs ", op);
  }
  CHECK(hooks >= 30);
}

TEST_CASE("known answer: slice_batch is a view; its range is checked") {
  Rng rng(17);
  Tensor x = random_f64({4, 2, 3, 3}, rng);
  CHECK(slice_batch(Var(x), 2, 4).value().raw() == static_cast<const char*>(x.raw()) + 2 * 18 * 8);
  CHECK_THROWS_WITH_AS(slice_batch(Var(x), 3, 5), doctest::Contains("slice_batch: samples [3, 5)"),
                       Error);
}

TEST_CASE("known answer: batch_norm_frozen leaves the running statistics; its forward is eval's") {
  Rng rng(18);
  const Tensor x = random_f64({3, 4, 5, 6}, rng, -2, 3), gamma = random_f64({4}, rng, 0.5, 1.5),
               beta = random_f64({4}, rng);
  const Tensor mean = random_f64({4}, rng, -1, 1), var = random_f64({4}, rng, 0.2, 2);
  BatchNormState state{mean.clone(), var.clone()};
  Var xv(x.clone(), true), gv(gamma.clone(), true), bv(beta.clone(), true);
  backward(sum(batch_norm_frozen(xv, gv, bv, state)));
  CHECK(state.running_mean.to_host() == mean.to_host());
  CHECK(state.running_var.to_host() == var.to_host());
  NoGradGuard no_grad;
  CHECK(batch_norm_frozen(Var(x), Var(gamma), Var(beta), state).value().to_host() ==
        batch_norm(Var(x), Var(gamma), Var(beta), state, false).value().to_host());
}
