// kernels/elementwise.cu against kernels/elementwise.cpp: fill, unary ops and their gradients,
// binary ops, scale_shift, accumulate, sum (also bitwise repeatable), broadcast_scalar.
#include <string>

#include "gpu_check.h"

using namespace steady;
using namespace gpu_check;

namespace {

const std::vector<Shape> kShapes = {{1}, {1, 1, 1, 1}, {2, 3, 7, 5}, {4, 8, 16, 16},
                                    {3, 5, 33, 17}, {2, 16, 64, 64}};

// Inputs in each op's domain; relu-like ops get some exact zeros (their kink).
Tensor unary_input(UnaryOp op, const Shape& shape) {
  if (op == UnaryOp::Log || op == UnaryOp::Rsqrt) return random_cpu(shape, 0.05, 4.0);
  if (op == UnaryOp::Exp) return random_cpu(shape, -5.0, 5.0);
  Tensor x = random_cpu(shape, -6.0, 6.0);
  if (op == UnaryOp::Relu || op == UnaryOp::LeakyRelu) {
    float* p = x.data<float>();
    for (int64_t i = 0; i < x.numel(); i += 7) p[i] = 0.f;
  }
  return x;
}

const UnaryOp kUnary[] = {UnaryOp::Relu, UnaryOp::LeakyRelu, UnaryOp::Sigmoid,
                          UnaryOp::Tanh, UnaryOp::Exp,       UnaryOp::Log,
                          UnaryOp::Rsqrt};

}  // namespace

TEST_CASE("gpu elementwise: fill writes exactly its view") {
  GpuCase gpu_case;
  for (const Shape& s : kShapes) {
    Guarded t(random_cpu(s));
    gpu().fill(t.view, 0.375);
    check_close(t.view, Tensor::full(s, 0.375), 0.0, "fill " + shape_str(s));
    t.check_guards("fill " + shape_str(s));
  }
}

TEST_CASE("gpu elementwise: unary ops forward") {
  GpuCase gpu_case;
  for (UnaryOp op : kUnary) {
    for (const Shape& s : kShapes) {
      const Tensor x = unary_input(op, s);
      const Tensor xg = to_gpu(x);
      poison_cache(s);
      const Tensor got = gpu().unary(op, xg, 0.1f);
      const Tensor want = cpu().unary(op, x, 0.1f);
      check_close(got, want, kFloat32Rounding, std::string(op_name(op)) + " " + shape_str(s));
    }
  }
}

TEST_CASE("gpu elementwise: unary ops backward, from x, from y and from both") {
  GpuCase gpu_case;
  for (UnaryOp op : kUnary) {
    for (const Shape& s : kShapes) {
      const Tensor x = unary_input(op, s);
      const Tensor y = cpu().unary(op, x, 0.1f);
      const Tensor gy = random_cpu(s);
      const Tensor xg = to_gpu(x), yg = to_gpu(y), gyg = to_gpu(gy);
      struct Variant {
        const char* name;
        Tensor x_cpu, y_cpu, x_gpu, y_gpu;
      };
      const Variant variants[] = {{"x and y", x, y, xg, yg},
                                  {"x only", x, Tensor(), xg, Tensor()},
                                  {"y only", Tensor(), y, Tensor(), yg}};
      for (const Variant& v : variants) {
        poison_cache(s);
        const Tensor got = gpu().unary_backward(op, v.x_gpu, v.y_gpu, gyg, 0.1f);
        const Tensor want = cpu().unary_backward(op, v.x_cpu, v.y_cpu, gy, 0.1f);
        check_close(got, want, kFloat32Rounding,
                    std::string(op_name(op)) + " backward from " + v.name + " " + shape_str(s));
      }
    }
  }
}

TEST_CASE("gpu elementwise: add, sub, mul") {
  GpuCase gpu_case;
  for (BinaryOp op : {BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Max}) {
    for (const Shape& s : kShapes) {
      const Tensor a = random_cpu(s, -3, 3), b = random_cpu(s, -3, 3);
      poison_cache(s);
      const Tensor got = gpu().binary(op, to_gpu(a), to_gpu(b));
      check_same_bits(got, cpu().binary(op, a, b), "binary " + shape_str(s));
    }
  }
}

TEST_CASE("gpu elementwise: scale_shift and broadcast_scalar") {
  GpuCase gpu_case;
  for (const Shape& s : kShapes) {
    const Tensor x = random_cpu(s, -3, 3);
    poison_cache(s);
    check_close(gpu().scale_shift(to_gpu(x), -1.7, 0.3), cpu().scale_shift(x, -1.7, 0.3), kFloat32Rounding,
                "scale_shift " + shape_str(s));
    const Tensor scalar = random_cpu({1}, 0.5, 2.0);
    poison_cache(s);
    check_close(gpu().broadcast_scalar(to_gpu(scalar), s, 0.25),
                cpu().broadcast_scalar(scalar, s, 0.25), kFloat32Rounding,
                "broadcast_scalar " + shape_str(s));
  }
}

TEST_CASE("gpu elementwise: accumulate into a view, alpha 1 and not 1") {
  GpuCase gpu_case;
  for (double alpha : {1.0, -0.37}) {
    for (const Shape& s : kShapes) {
      const Tensor dst = random_cpu(s), src = random_cpu(s);
      Guarded d(dst);
      gpu().accumulate(d.view, to_gpu(src), alpha);
      Tensor want = dst.clone();
      cpu().accumulate(want, src, alpha);
      check_close(d.view, want, kFloat32Rounding, "accumulate " + shape_str(s));
      d.check_guards("accumulate " + shape_str(s));
    }
  }
}

TEST_CASE("gpu elementwise: sum over one and many chunks, deterministic") {
  GpuCase gpu_case;
  for (int64_t n : {int64_t(1), int64_t(1000), int64_t(4096), int64_t(4097), int64_t(1000003)}) {
    // A positive offset keeps the sum far from zero, so the relative error means something.
    const Tensor x = random_cpu({n}, -0.5, 1.5);
    const Tensor xg = to_gpu(x);
    poison_cache(1);
    const Tensor got = gpu().sum(xg);
    check_close(got, cpu().sum(x), kFloat32Rounding, "sum of " + std::to_string(n));
    CHECK(same_bits(got, gpu().sum(xg)));
  }
  // The view of a larger buffer: only its elements count.
  Guarded g(random_cpu({5000}));
  check_close(gpu().sum(g.view), cpu().sum(g.view.to(Device::CPU)), kFloat32Rounding, "sum of a view");
}

TEST_CASE("gpu elementwise: wrong devices and shapes are clear errors") {
  GpuCase gpu_case;
  const Tensor a = random_cpu({2, 3});
  CHECK_THROWS_WITH_AS(gpu().unary(UnaryOp::Relu, a, 0.f), doctest::Contains("relu"), Error);
  CHECK_THROWS_WITH_AS(gpu().binary(BinaryOp::Add, to_gpu(a), to_gpu(random_cpu({3, 2}))),
                       doctest::Contains("add"), Error);
  CHECK_THROWS_WITH_AS(gpu().binary(BinaryOp::Mul, to_gpu(a), a), doctest::Contains("mul"), Error);
}
