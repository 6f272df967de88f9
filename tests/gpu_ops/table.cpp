// The op-case table (tests/op_cases.h) on CUDA against the CPU, float32, fresh random inputs:
// for each differentiable row the forward and every input gradient of the autograd backward
// (sum(f(x) * R) with a random R), for each forward-only row its outputs. Outputs are drawn from
// NaN-poisoned blocks of the caching allocator and every case runs with its guard bytes on
// (GpuCase), so a value a kernel forgets to write, or one written past its tensor, fails.
#include "gpu_check.h"
#include "tests/op_cases.h"

using namespace steady;
using namespace gpu_check;

namespace {

std::vector<Tensor> inputs_on(const std::vector<Tensor>& f64, Device d) {
  std::vector<Tensor> out;
  for (const Tensor& t : f64) out.push_back(t.to(DType::F32).to(d));
  return out;
}

struct Result {
  std::vector<Tensor> outputs;  // forward outputs, then the input gradients
};

Result run(const op_cases::Case& c, const std::vector<Tensor>& inputs, const Tensor& weights,
           const std::vector<Shape>& poison) {
  for (const Shape& s : poison) poison_cache(s);
  Result r;
  if (c.values) {
    r.outputs = c.values(inputs);
    return r;
  }
  std::vector<Var> vars;
  for (size_t k = 0; k < inputs.size(); ++k) vars.emplace_back(inputs[k], c.inputs[k].grad);
  Var y = c.var(vars);
  backward(sum(mul(y, Var(weights.to(y.device())))));
  r.outputs.push_back(y.value());
  for (size_t k = 0; k < vars.size(); ++k)
    if (c.inputs[k].grad) r.outputs.push_back(vars[k].grad());
  return r;
}

}  // namespace

TEST_CASE("gpu table: every row of the op-case table, CUDA against the CPU") {
  for (const op_cases::Case& c : op_cases::cases()) {
    SUBCASE(c.name.c_str()) {
      GpuCase gpu_case;
      std::vector<Tensor> f64;
      for (const op_cases::Input& in : c.inputs) f64.push_back(op_cases::make_input(in, rng()));
      const std::vector<Tensor> cpu_in = inputs_on(f64, Device::CPU);
      const std::vector<Tensor> gpu_in = inputs_on(f64, Device::CUDA);
      Tensor weights;
      if (c.var) {
        NoGradGuard no_grad;
        std::vector<Var> probe;
        for (const Tensor& t : cpu_in) probe.emplace_back(t, false);
        weights = random_cpu(c.var(probe).shape());
      }
      const Result want = run(c, cpu_in, weights, {});
      std::vector<Shape> poison;
      for (const Tensor& t : want.outputs) poison.push_back(t.shape());
      const Result got = run(c, gpu_in, weights, poison);
      REQUIRE(got.outputs.size() == want.outputs.size());
      for (size_t i = 0; i < want.outputs.size(); ++i) {
        CHECK(got.outputs[i].device() == Device::CUDA);
        check_close(got.outputs[i], want.outputs[i], c.gpu_tol,
                    c.name + (i == 0 ? ": forward" : ": gradient " + std::to_string(i)));
      }
    }
  }
}
