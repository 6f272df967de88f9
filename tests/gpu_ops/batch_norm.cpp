// kernels/batch_norm.cu against kernels/batch_norm.cpp: training forward (output, saved
// statistics, running statistics updated in place), evaluation, backward (grad_gamma and
// grad_beta given as NaN-filled views with guards, or left undefined for the op to allocate).
#include <limits>
#include <string>

#include "gpu_check.h"

using namespace steady;
using namespace gpu_check;

namespace {
const Shape kShapes[] = {{2, 3, 5, 7}, {4, 16, 8, 8}, {1, 8, 33, 17}, {8, 4, 1, 1}, {16, 32, 32, 32}};
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
}  // namespace

TEST_CASE("gpu batch_norm: training forward and running statistics") {
  GpuCase gpu_case;
  for (const Shape& s : kShapes) {
    const std::string what = "batch_norm_train " + shape_str(s);
    const int64_t c = s[1];
    // A mean far from zero and a spread other than one, so both statistics matter.
    const Tensor x = cpu().scale_shift(random_cpu(s), 2.5, 3.0);
    const Tensor gamma = random_cpu({c}, 0.5, 1.5), beta = random_cpu({c});
    const Tensor rm = random_cpu({c}), rv = random_cpu({c}, 0.5, 2.0);

    Tensor rm_cpu = rm.clone(), rv_cpu = rv.clone();
    BatchNormSaved saved_cpu;
    const Tensor want = cpu().batch_norm_train(x, gamma, beta, rm_cpu, rv_cpu, 0.1f, 1e-5f, saved_cpu);

    Guarded rm_gpu(rm), rv_gpu(rv);
    BatchNormSaved saved_gpu;
    poison_cache(s);
    const Tensor got = gpu().batch_norm_train(to_gpu(x), to_gpu(gamma), to_gpu(beta), rm_gpu.view,
                                              rv_gpu.view, 0.1f, 1e-5f, saved_gpu);
    check_close(got, want, kFloat32Rounding, what + " y");
    check_close(saved_gpu.mean, saved_cpu.mean, kFloat32Rounding, what + " saved mean");
    check_close(saved_gpu.invstd, saved_cpu.invstd, kFloat32Rounding, what + " saved invstd");
    check_close(rm_gpu.view, rm_cpu, kFloat32Rounding, what + " running mean");
    check_close(rv_gpu.view, rv_cpu, kFloat32Rounding, what + " running var");
    rm_gpu.check_guards(what + " running mean");
    rv_gpu.check_guards(what + " running var");
  }
}

TEST_CASE("gpu batch_norm: evaluation") {
  GpuCase gpu_case;
  for (const Shape& s : kShapes) {
    const int64_t c = s[1];
    const Tensor x = random_cpu(s, -2, 4);
    const Tensor gamma = random_cpu({c}, 0.5, 1.5), beta = random_cpu({c});
    const Tensor rm = random_cpu({c}), rv = random_cpu({c}, 0.5, 2.0);
    poison_cache(s);
    const Tensor got = gpu().batch_norm_eval(to_gpu(x), to_gpu(gamma), to_gpu(beta), to_gpu(rm),
                                             to_gpu(rv), 1e-5f);
    check_close(got, cpu().batch_norm_eval(x, gamma, beta, rm, rv, 1e-5f), kFloat32Rounding,
                "batch_norm_eval " + shape_str(s));
  }
}

TEST_CASE("gpu batch_norm: backward") {
  GpuCase gpu_case;
  for (const Shape& s : kShapes) {
    const std::string what = "batch_norm_backward " + shape_str(s);
    const int64_t c = s[1];
    const Tensor x = cpu().scale_shift(random_cpu(s), 2.0, -1.0);
    const Tensor gamma = random_cpu({c}, 0.5, 1.5), beta = random_cpu({c});
    const Tensor gy = random_cpu(s);
    Tensor rm = Tensor::zeros({c}), rv = Tensor::full({c}, 1.0);
    BatchNormSaved saved_cpu;
    cpu().batch_norm_train(x, gamma, beta, rm, rv, 0.1f, 1e-5f, saved_cpu);
    Tensor gg_cpu, gb_cpu;
    const Tensor want = cpu().batch_norm_backward(x, gamma, saved_cpu, gy, gg_cpu, gb_cpu);

    // The same saved statistics on both sides, so only the backward pass is compared.
    BatchNormSaved saved_gpu{to_gpu(saved_cpu.mean), to_gpu(saved_cpu.invstd)};
    Guarded gg(Tensor::full({c}, kNaN)), gb(Tensor::full({c}, kNaN));
    poison_cache(s);
    const Tensor got = gpu().batch_norm_backward(to_gpu(x), to_gpu(gamma), saved_gpu, to_gpu(gy),
                                                 gg.view, gb.view);
    check_close(got, want, kFloat32Rounding, what + " grad_x");
    check_close(gg.view, gg_cpu, kFloat32Rounding, what + " grad_gamma");
    check_close(gb.view, gb_cpu, kFloat32Rounding, what + " grad_beta");
    gg.check_guards(what + " grad_gamma");
    gb.check_guards(what + " grad_beta");

    Tensor gg_new, gb_new;  // undefined: the op allocates them
    gpu().batch_norm_backward(to_gpu(x), to_gpu(gamma), saved_gpu, to_gpu(gy), gg_new, gb_new);
    check_close(gg_new, gg_cpu, kFloat32Rounding, what + " allocated grad_gamma");
    check_close(gb_new, gb_cpu, kFloat32Rounding, what + " allocated grad_beta");
  }
}

TEST_CASE("gpu batch_norm: one value per channel is an error in training") {
  GpuCase gpu_case;
  Tensor rm = Tensor::zeros({3}, Device::CUDA), rv = Tensor::full({3}, 1.0, Device::CUDA);
  BatchNormSaved saved;
  const Tensor g = Tensor::full({3}, 1.0, Device::CUDA), b = Tensor::zeros({3}, Device::CUDA);
  CHECK_THROWS_WITH_AS(gpu().batch_norm_train(Tensor::zeros({1, 3, 1, 1}, Device::CUDA), g, b, rm,
                                              rv, 0.1f, 1e-5f, saved),
                       doctest::Contains("more than one value"), Error);
}
