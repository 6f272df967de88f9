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

}  // namespace

TEST_CASE("gpu table: every row of the op-case table, CUDA against the CPU") {
  for (const op_cases::Case& c : op_cases::cases()) {
    SUBCASE(c.name.c_str()) {
      GpuCase gpu_case;
      std::vector<Tensor> f64;
      for (const op_cases::Input& in : c.inputs) f64.push_back(op_cases::make_input(in, rng()));
      const std::vector<Tensor> cpu_in = inputs_on(f64, Device::CPU);
      const std::vector<Tensor> gpu_in = inputs_on(f64, Device::CUDA);
      const Tensor weights = c.var ? random_cpu(op_cases::output_shape(c, cpu_in)) : Tensor();
      const std::vector<Tensor> want = op_cases::run(c, cpu_in, weights);
      for (const Tensor& t : want) poison_cache(t.shape());
      const std::vector<Tensor> got = op_cases::run(c, gpu_in, weights);
      REQUIRE(got.size() == want.size());
      for (size_t i = 0; i < want.size(); ++i) {
        CHECK(got[i].device() == Device::CUDA);
        check_close(got[i], want[i], c.gpu_tol,
                    c.name + (i == 0 ? ": forward" : ": gradient " + std::to_string(i)));
      }
    }
  }
}
