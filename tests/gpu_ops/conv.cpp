// kernels/conv.cu (cuDNN) against kernels/conv.cpp: conv2d and conv_transpose2d, forward
// and backward, with and without bias, over strides, paddings, output paddings and kernel sizes;
// deterministic mode repeats bitwise.
#include <string>

#include "engine/cuda/runtime.h"
#include "gpu_check.h"

using namespace steady;
using namespace gpu_check;

namespace {

struct ConvCase {
  int64_t n, ci, h, w, co;
  int k, stride, pad, output_pad;
  std::string str() const {
    return "N" + std::to_string(n) + " Ci" + std::to_string(ci) + " " + std::to_string(h) + "x" +
           std::to_string(w) + " Co" + std::to_string(co) + " k" + std::to_string(k) + " s" +
           std::to_string(stride) + " p" + std::to_string(pad) + " op" + std::to_string(output_pad);
  }
};

void check_grads(const ConvGrads& got, const ConvGrads& want, bool has_bias,
                 const std::string& what) {
  check_close(got.grad_x, want.grad_x, kConv, what + " grad_x");
  check_close(got.grad_w, want.grad_w, kConv, what + " grad_w");
  CHECK(got.grad_b.defined() == has_bias);
  if (has_bias) check_close(got.grad_b, want.grad_b, kFloat32Rounding, what + " grad_b");
}

// One case of conv2d (or conv_transpose2d): forward and backward on the GPU against the CPU.
void check_conv_case(bool transposed, const ConvCase& c, bool bias) {
  const std::string what =
      std::string(transposed ? "conv_transpose2d " : "conv2d ") + c.str() + (bias ? " bias" : "");
  const Tensor x = random_cpu({c.n, c.ci, c.h, c.w});
  const Tensor w = random_cpu(transposed ? Shape{c.ci, c.co, c.k, c.k} : Shape{c.co, c.ci, c.k, c.k});
  const Tensor b = bias ? random_cpu({c.co}) : Tensor();
  const Conv2dArgs a{c.stride, c.pad, transposed ? c.output_pad : 0};
  auto forward = [&](Backend& be, const Tensor& x, const Tensor& w, const Tensor& b) {
    return transposed ? be.conv_transpose2d(x, w, b, a) : be.conv2d(x, w, b, a);
  };
  auto backward = [&](Backend& be, const Tensor& x, const Tensor& w, const Tensor& gy) {
    return transposed ? be.conv_transpose2d_backward(x, w, {true, bias}, gy, a)
                      : be.conv2d_backward(x, w, {true, bias}, gy, a);
  };
  const Tensor want = forward(cpu(), x, w, b);
  poison_cache(want.shape());
  const Tensor xg = to_gpu(x), wg = to_gpu(w);
  check_close(forward(gpu(), xg, wg, bias ? to_gpu(b) : Tensor()), want, kConv, what);
  const Tensor gy = random_cpu(want.shape());
  poison_cache(x.shape());
  check_grads(backward(gpu(), xg, wg, to_gpu(gy)), backward(cpu(), x, w, gy), bias, what);
}

}  // namespace

TEST_CASE("gpu conv: math mode is float32 unless STEADY_TF32 asks otherwise") {
  GpuCase gpu_case;
  const char* env = std::getenv("STEADY_TF32");
  const bool tf32_asked = env && *env && std::string(env) != "0";
  CHECK(cuda::tf32_enabled() == tf32_asked);
  if (tf32_asked) MESSAGE("STEADY_TF32 is set: the convolution tolerances below will not hold");
}

TEST_CASE("gpu conv: conv2d forward and backward") {
  GpuCase gpu_case;
  const ConvCase cases[] = {
      {1, 1, 5, 5, 1, 3, 1, 1, 0},    {2, 3, 8, 8, 4, 3, 1, 1, 0},   {2, 4, 9, 7, 5, 3, 2, 1, 0},
      {3, 8, 16, 16, 16, 1, 1, 0, 0}, {2, 5, 11, 13, 3, 5, 2, 2, 0}, {2, 3, 6, 6, 2, 4, 2, 0, 0},
      {1, 16, 32, 32, 32, 3, 1, 1, 0}, {4, 32, 16, 16, 64, 3, 2, 1, 0}};
  for (const ConvCase& c : cases) {
    for (bool bias : {false, true}) check_conv_case(false, c, bias);
  }
}

TEST_CASE("gpu conv: conv_transpose2d forward and backward") {
  GpuCase gpu_case;
  const ConvCase cases[] = {{2, 4, 5, 5, 3, 3, 2, 1, 1}, {1, 8, 8, 8, 4, 4, 2, 1, 0},
                            {2, 3, 7, 6, 5, 3, 1, 1, 0}, {1, 2, 4, 4, 2, 2, 2, 0, 0},
                            {2, 6, 9, 5, 3, 5, 3, 2, 2}, {2, 32, 16, 16, 16, 4, 2, 1, 0}};
  for (const ConvCase& c : cases) {
    for (bool bias : {false, true}) check_conv_case(true, c, bias);
  }
}

TEST_CASE("gpu conv: deterministic mode gives bitwise-repeatable gradients") {
  GpuCase gpu_case;
  const bool before = cuda::deterministic();
  cuda::set_deterministic(true);
  const Tensor x = to_gpu(random_cpu({8, 16, 32, 32})), w = to_gpu(random_cpu({32, 16, 3, 3}));
  const Tensor gy = to_gpu(random_cpu({8, 32, 32, 32}));
  const Conv2dArgs a{1, 1, 0};
  const ConvGrads first = gpu().conv2d_backward(x, w, {}, gy, a);
  const ConvGrads second = gpu().conv2d_backward(x, w, {}, gy, a);
  cuda::set_deterministic(before);
  CHECK(same_bits(first.grad_x, second.grad_x));
  CHECK(same_bits(first.grad_w, second.grad_w));
  CHECK(same_bits(first.grad_b, second.grad_b));
  // Without grad_x (a first layer) the other gradients are the same bits.
  cuda::set_deterministic(true);
  const ConvGrads no_x = gpu().conv2d_backward(x, w, {false, true}, gy, a);
  cuda::set_deterministic(before);
  CHECK_FALSE(no_x.grad_x.defined());
  CHECK(same_bits(no_x.grad_w, first.grad_w));
  CHECK(same_bits(no_x.grad_b, first.grad_b));
}

TEST_CASE("gpu conv: bad arguments are clear errors") {
  GpuCase gpu_case;
  const Tensor x = to_gpu(random_cpu({1, 3, 8, 8}));
  CHECK_THROWS_WITH_AS(gpu().conv2d(x, to_gpu(random_cpu({4, 2, 3, 3})), Tensor(), {}),
                       doctest::Contains("channels"), Error);
  CHECK_THROWS_WITH_AS(gpu().conv2d(x, random_cpu({4, 3, 3, 3}), Tensor(), {}),
                       doctest::Contains("conv2d"), Error);
  CHECK_THROWS_WITH_AS(
      gpu().conv_transpose2d(x, to_gpu(random_cpu({3, 2, 3, 3})), Tensor(), {2, 1, 2}),
      doctest::Contains("output_pad"), Error);
}
