// kernels/adam.cu against kernels/adam.cpp: several steps on fresh gradients, with and without
// weight decay, every buffer a view with guard values around it.
#include <string>

#include "gpu_check.h"

using namespace steady;
using namespace gpu_check;

TEST_CASE("gpu adam: several steps match the CPU, with and without weight decay") {
  GpuCase gpu_case;
  for (float wd : {0.f, 0.05f}) {
    for (int64_t n : {int64_t(1), int64_t(1000), int64_t(100003)}) {
      const std::string what = "adam n=" + std::to_string(n) + " wd=" + std::to_string(wd);
      AdamArgs args;
      args.lr = 3e-3f;
      args.weight_decay = wd;
      Tensor p_cpu = random_cpu({n}), m_cpu = Tensor::zeros({n}), v_cpu = Tensor::zeros({n});
      Guarded p(p_cpu), m(m_cpu), v(v_cpu);
      for (int64_t step = 1; step <= 5; ++step) {
        // Gradients of very different sizes, as real ones are.
        const Tensor g = cpu().scale_shift(random_cpu({n}), step % 2 ? 1e-3 : 10.0, 0.0);
        args.step = step;
        cpu().adam_step(p_cpu, g, m_cpu, v_cpu, args);
        gpu().adam_step(p.view, to_gpu(g), m.view, v.view, args);
        const std::string at = what + " step " + std::to_string(step);
        check_close(p.view, p_cpu, kFloat32Rounding, at + " params");
        check_close(m.view, m_cpu, kFloat32Rounding, at + " m");
        check_close(v.view, v_cpu, kFloat32Rounding, at + " v");
      }
      p.check_guards(what + " params");
      m.check_guards(what + " m");
      v.check_guards(what + " v");
    }
  }
}

TEST_CASE("gpu adam: a step number set by the host is honoured (resume)") {
  GpuCase gpu_case;
  const int64_t n = 777;
  AdamArgs args;
  args.step = 41;  // as after resuming from a checkpoint at step 40
  Tensor p_cpu = random_cpu({n}), m_cpu = random_cpu({n}, -0.01, 0.01),
         v_cpu = random_cpu({n}, 0.0, 1e-4);
  Tensor p = to_gpu(p_cpu), m = to_gpu(m_cpu), v = to_gpu(v_cpu);
  const Tensor g = random_cpu({n});
  cpu().adam_step(p_cpu, g, m_cpu, v_cpu, args);
  gpu().adam_step(p, to_gpu(g), m, v, args);
  check_close(p, p_cpu, kFloat32Rounding, "adam at step 41");
}
