// The tape itself: accumulation, shared sub-graphs, no-grad mode, parameter gradients in the
// flat buffer, clear errors; tensor allocation refusing impossible shapes; the host block cache.
#include <doctest/doctest.h>

#include "engine/cpu/host_allocator.h"
#include "engine/memory_bucket.h"
#include "engine/ops.h"
#include "engine/params.h"

using namespace steady;

namespace {
Var scalar_var(double v, bool grad = true) {
  return Var(Tensor::from_vector(std::vector<double>{v}, {1}), grad);
}
}  // namespace

TEST_CASE("autograd: a variable used twice accumulates both paths") {
  Var x = scalar_var(3.0);
  Var y = add(mul(x, x), scale(x, 4.0));  // x^2 + 4x -> 2x + 4 = 10
  backward(y);
  CHECK(x.grad().item() == doctest::Approx(10.0).epsilon(1e-15));
}

TEST_CASE("autograd: a gradient passed to two inputs is not shared between them") {
  // add's backward hands the same tensor to both inputs; each must get its own copy, or a later
  // accumulation into p's gradient would also change q's.
  Var p = scalar_var(1.0), q = scalar_var(5.0);
  backward(add(p, q));
  CHECK(p.grad().item() == 1.0);
  CHECK(q.grad().item() == 1.0);
  backward(scale(p, 3.0));
  CHECK(p.grad().item() == 4.0);
  CHECK(q.grad().item() == 1.0);
}

TEST_CASE("autograd: a shared sub-graph runs its backward once") {
  Var x = scalar_var(2.0);
  Var a = exp(x);                  // shared
  Var y = add(mul(a, a), a);       // e^2x + e^x -> 2e^2x + e^x
  backward(y);
  double e = std::exp(2.0);
  CHECK(x.grad().item() == doctest::Approx(2 * e * e + e).epsilon(1e-14));
}

TEST_CASE("autograd: gradients accumulate across backward calls until zeroed") {
  ParamStore store;
  int w = store.add_param("w", {1}, Init::Ones);
  Rng rng(0);
  store.finalize(Device::CPU, rng);
  Var x(Tensor::from_vector(std::vector<float>{3.f}, {1}));
  for (int i = 0; i < 2; ++i) backward(mul(store.param(w), x));
  CHECK(store.grads.item() == doctest::Approx(6.0));
  store.zero_grad();
  CHECK(store.grads.item() == 0.0);
}

TEST_CASE("autograd: no-grad mode records nothing") {
  Var x = scalar_var(1.5);
  Var y;
  {
    NoGradGuard guard;
    y = mul(x, x);
  }
  CHECK_FALSE(y.requires_grad());
  CHECK(y.node()->inputs.empty());
  CHECK(y.value().item() == doctest::Approx(2.25));
  CHECK(grad_enabled());
}

TEST_CASE("autograd: constants get no gradient") {
  Var x = scalar_var(2.0);
  Var c = scalar_var(5.0, false);
  backward(mul(x, c));
  CHECK(x.grad().item() == doctest::Approx(5.0));
  CHECK_FALSE(c.grad().defined());
}

TEST_CASE("autograd: errors name the op and the shapes") {
  Var a(Tensor::zeros({2, 3}), true), b(Tensor::zeros({3, 2}), true);
  try {
    add(a, b);
    FAIL("expected an error");
  } catch (const Error& e) {
    std::string msg = e.what();
    CHECK(msg.find("add") != std::string::npos);
    CHECK(msg.find("[2, 3]") != std::string::npos);
    CHECK(msg.find("[3, 2]") != std::string::npos);
  }
  CHECK_THROWS_AS(backward(a), Error);  // not a one-element loss
}

TEST_CASE("tensor: impossible shapes are clear errors, not tiny buffers") {
  CHECK_THROWS_WITH_AS(Tensor::empty({2, -3}), doctest::Contains("negative dimension"), Error);
  // 2^62 floats: numel * 4 would wrap around to 0 bytes.
  CHECK_THROWS_WITH_AS(Tensor::empty({int64_t{1} << 31, int64_t{1} << 31}),
                       doctest::Contains("too large"), Error);
  CHECK(Tensor::empty({0, int64_t{1} << 40}).numel() == 0);
}

TEST_CASE("host memory: large blocks are reused, the cache stays within twice the peak") {
  const HostAllocatorStats before = host_allocator_stats();
  const Shape big{1, 4, 512, 512};  // 4 MiB of float32: cached
  void* first = nullptr;
  {
    Tensor t = Tensor::zeros(big, Device::CPU, DType::F32);
    first = t.data<float>();
    CHECK(host_allocator_stats().bytes_in_use == before.bytes_in_use + bucket_size(4 << 20));
  }
  CHECK(host_allocator_stats().bytes_in_use == before.bytes_in_use);
  Tensor again = Tensor::zeros(big, Device::CPU, DType::F32);
  CHECK(again.data<float>() == first);  // the freed block, not fresh pages
  CHECK(again.data<float>()[12345] == 0.f);
  Tensor small = Tensor::zeros({1000}, Device::CPU, DType::F32);  // below 64 KiB: malloc's
  CHECK(host_allocator_stats().bytes_in_use == before.bytes_in_use + bucket_size(4 << 20));
  const HostAllocatorStats now = host_allocator_stats();
  CHECK(now.bytes_in_use + now.bytes_cached <= 2 * now.peak_bytes);
  CHECK(reinterpret_cast<uintptr_t>(small.data<float>()) % 64 == 0);
}
