// The CUDA backend under the engine: a tiny conv net (conv2d -> batch_norm -> relu -> conv2d ->
// mse, Adam over a ParamStore) written with engine/ops.h.
//  - one step's loss, gradients and running statistics match the CPU;
//  - a steady-state training step makes no driver allocation and leaks nothing;
//  - CUDA-graph captured steps give bitwise the same parameters, optimizer state and losses as
//    uncaptured ones (deterministic algorithms), and the graph's memory is not handed to others;
//  - STEADY_CUDA_GRAPH=0 turns capture off; a step that cannot be captured is a clear error after
//    which the device keeps working.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>
#include <vector>

#include "engine/cuda/allocator.h"
#include "engine/cuda/graph.h"
#include "engine/cuda/runtime.h"
#include "engine/ops.h"
#include "engine/params.h"
#include "losses/regularizers.h"
#include "models/model.h"

using namespace steady;

namespace {

const Shape kInput{4, 3, 16, 16};

struct TinyNet {
  ParamStore store;
  Adam adam{AdamArgs{3e-3f}};
  int w1, b1, gamma, beta, w2, b2, running_mean, running_var;

  TinyNet(Device device, uint64_t seed) {
    Rng rng(seed);
    w1 = store.add_param("conv1.w", {8, 3, 3, 3}, Init::HeNormal, 27);
    b1 = store.add_param("conv1.b", {8}, Init::Zeros);
    gamma = store.add_param("bn.gamma", {8}, Init::Ones);
    beta = store.add_param("bn.beta", {8}, Init::Zeros);
    w2 = store.add_param("conv2.w", {3, 8, 3, 3}, Init::HeNormal, 72);
    b2 = store.add_param("conv2.b", {3}, Init::Zeros);
    running_mean = store.add_buffer("bn.running_mean", {8}, Init::Zeros);
    running_var = store.add_buffer("bn.running_var", {8}, Init::Ones);
    store.finalize(device, rng);
    adam.attach(store);
  }

  // Zeroes the gradients, runs forward and backward, returns the loss.
  Tensor forward_backward(const Tensor& x, const Tensor& target) {
    store.zero_grad();
    BatchNormState bn{store.buffer(running_mean), store.buffer(running_var)};
    Var h = conv2d(Var(x), store.param(w1), store.param(b1), 1, 1);
    h = relu(batch_norm(h, store.param(gamma), store.param(beta), bn, true));
    Var y = conv2d(h, store.param(w2), store.param(b2), 1, 1);
    Var loss = mse(y, Var(target));
    backward(loss);
    return loss.value();
  }

  // One training step; the loss is copied into loss_out, a tensor that outlives the step (so the
  // step can be captured into a CUDA graph: it reads nothing back to the host).
  void step(const Tensor& x, const Tensor& target, Tensor& loss_out) {
    const Tensor loss = forward_backward(x, target);
    adam.step(store);
    loss_out.copy_from(loss);
  }
};

Tensor random_input(uint64_t seed, const Shape& shape) {
  Rng rng(seed);
  std::vector<float> v(static_cast<size_t>(shape_numel(shape)));
  for (float& x : v) x = static_cast<float>(rng.uniform(-1, 1));
  return Tensor::from_vector(v, shape);
}

Tensor random_unit(uint64_t seed, const Shape& shape) {
  Rng rng(seed);
  std::vector<float> v(static_cast<size_t>(shape_numel(shape)));
  for (float& x : v) x = static_cast<float>(rng.uniform());
  return Tensor::from_vector(v, shape);
}

double normalized_error(const Tensor& got, const Tensor& want) {
  const std::vector<double> a = got.to_host(), b = want.to_host();
  REQUIRE(a.size() == b.size());
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!std::isfinite(a[i])) return std::numeric_limits<double>::infinity();
    num += (a[i] - b[i]) * (a[i] - b[i]);
    den += b[i] * b[i];
  }
  return den == 0 ? (num == 0 ? 0 : std::numeric_limits<double>::infinity()) : num / den;
}

bool same_bits(const Tensor& a, const Tensor& b) { return a.to_host() == b.to_host(); }

bool all_nan(const Tensor& t) {
  for (double v : t.to_host())
    if (!std::isnan(v)) return false;
  return true;
}

// Restores an environment variable when the scope ends.
struct EnvGuard {
  std::string name, old;
  bool had;
  EnvGuard(const char* n, const char* value) : name(n) {
    const char* v = std::getenv(n);
    had = v != nullptr;
    if (had) old = v;
    setenv(n, value, 1);
  }
  ~EnvGuard() {
    if (had) {
      setenv(name.c_str(), old.c_str(), 1);
    } else {
      unsetenv(name.c_str());
    }
  }
};

// A TinyNet on the GPU with a fixed input, target and loss slot: one call, one training step.
struct GpuStep {
  TinyNet net;
  Tensor x, target, loss = Tensor::zeros({1}, Device::CUDA);
  GpuStep(uint64_t net_seed, uint64_t input_seed)
      : net(Device::CUDA, net_seed),
        x(random_input(input_seed, kInput).to(Device::CUDA)),
        target(random_input(input_seed + 1, kInput).to(Device::CUDA)) {}
  void operator()() { net.step(x, target, loss); }
};

// Deterministic cuDNN algorithms in its scope.
struct DeterministicScope {
  bool before = cuda::deterministic();
  DeterministicScope() { cuda::set_deterministic(true); }
  ~DeterministicScope() { cuda::set_deterministic(before); }
};

}  // namespace

TEST_CASE("gpu engine: one step's loss, gradients and running statistics match the CPU") {
  TinyNet on_cpu(Device::CPU, 5), on_gpu(Device::CUDA, 5);
  const Tensor x = random_input(1, kInput), target = random_input(2, kInput);
  const Tensor loss_cpu = on_cpu.forward_backward(x, target);
  const Tensor loss_gpu = on_gpu.forward_backward(x.to(Device::CUDA), target.to(Device::CUDA));
  CHECK(normalized_error(loss_gpu, loss_cpu) <= 1e-8);
  CHECK(normalized_error(on_gpu.store.grads, on_cpu.store.grads) <= 1e-8);
  CHECK(normalized_error(on_gpu.store.buffer_values, on_cpu.store.buffer_values) <= 1e-10);
  // Parameters after Adam are not compared: conv1's bias feeds batch norm, so its gradient is
  // rounding noise on both devices, and Adam's first update turns noise into steps of size ~lr.
}

TEST_CASE("gpu engine: a steady-state training step makes no driver allocation") {
  GpuStep step(7, 3);
  for (int i = 0; i < 3; ++i) step();
  cuda_backend().synchronize();
  const cuda::AllocatorStats warm = cuda::allocator_stats();
  for (int i = 0; i < 5; ++i) {
    step();
    CHECK(cuda::allocator_stats().bytes_in_use == warm.bytes_in_use);  // nothing leaks
  }
  cuda_backend().synchronize();
  const cuda::AllocatorStats after = cuda::allocator_stats();
  CHECK(after.driver_allocations == warm.driver_allocations);
  CHECK(after.allocations > warm.allocations);  // the steps did allocate, from the cache
  CHECK(std::isfinite(step.loss.item()));
}

TEST_CASE("gpu engine: CUDA-graph steps give the same parameters as uncaptured steps") {
  DeterministicScope deterministic;
  const Tensor x = random_input(8, kInput).to(Device::CUDA);
  const Tensor target = random_input(9, kInput).to(Device::CUDA);
  const int steps = 6;

  TinyNet plain(Device::CUDA, 11);
  Tensor plain_loss = Tensor::zeros({1}, Device::CUDA);
  std::vector<double> plain_losses;
  for (int i = 0; i < steps; ++i) {
    plain.step(x, target, plain_loss);
    plain_losses.push_back(plain_loss.item());
  }

  EnvGuard graphs_on("STEADY_CUDA_GRAPH", "1");
  TinyNet graphed(Device::CUDA, 11);
  Tensor graph_loss = Tensor::zeros({1}, Device::CUDA);
  std::vector<double> graph_losses;
  cuda::StepGraph graph(1);
  std::vector<Tensor> outsiders;  // allocated between replays, poisoned with NaN
  for (int i = 0; i < steps; ++i) {
    graph.run([&] { graphed.step(x, target, graph_loss); });
    graph_losses.push_back(graph_loss.item());
    if (graph.captured()) {
      // Blocks of the step's sizes handed out now must not be ones the graph writes to.
      for (const Shape& s : {Shape{4, 8, 16, 16}, kInput, Shape{1}}) {
        outsiders.push_back(Tensor::full(s, std::nan(""), Device::CUDA));
      }
    }
  }
  CHECK(graph.captured());
  CHECK(graph.replays() == steps - 1);
  for (size_t i = 0; i < plain_losses.size(); ++i) {
    CAPTURE(i);
    CHECK(graph_losses[i] == plain_losses[i]);
  }
  CHECK(same_bits(graphed.store.values, plain.store.values));
  CHECK(same_bits(graphed.adam.m, plain.adam.m));
  CHECK(same_bits(graphed.adam.v, plain.adam.v));
  CHECK(same_bits(graphed.store.buffer_values, plain.store.buffer_values));
  for (const Tensor& t : outsiders) CHECK(all_nan(t));
}

TEST_CASE("gpu engine: STEADY_CUDA_GRAPH=0 runs every step uncaptured") {
  EnvGuard graphs_off("STEADY_CUDA_GRAPH", "0");
  GpuStep step(13, 5);
  cuda::StepGraph graph;
  CHECK_FALSE(graph.enabled());
  for (int i = 0; i < 3; ++i) graph.run([&] { step(); });
  CHECK_FALSE(graph.captured());
  CHECK(graph.replays() == 0);
  CHECK(std::isfinite(step.loss.item()));
}

TEST_CASE("gpu engine: a step that reads back to the host cannot be captured, clearly") {
  EnvGuard graphs_on("STEADY_CUDA_GRAPH", "1");
  GpuStep step(17, 7);
  cuda::StepGraph graph;
  auto step_with_readback = [&] {
    step();
    (void)step.loss.item();  // a copy to the host: not allowed inside a graph
  };
  graph.run(step_with_readback);  // warm-up: fine
  CHECK_THROWS_WITH_AS(graph.run(step_with_readback),
                       doctest::Contains("CUDA graph capture of the training step failed"), Error);
  CHECK_FALSE(graph.captured());
  CHECK_FALSE(graph.enabled());  // later steps run uncaptured
  graph.run(step_with_readback);
  CHECK_FALSE(graph.captured());
  // The stream and the allocator are usable again.
  step();
  CHECK(std::isfinite(step.loss.item()));
  Tensor big = Tensor::full({1 << 20}, 1.0, Device::CUDA);  // may need the driver: allowed again
  CHECK(cuda_backend().sum(big).item() == double(1 << 20));
}

TEST_CASE("gpu engine: a captured training step gives the uncaptured step's bits, every model and regularizer") {
  // The trainer's step (tools/lib/trainer.cpp): inputs and draws in tensors allocated once,
  // draws made on the host and uploaded before each run, the step itself captured after one
  // warm-up. Checked after the capture and two replays, weights, Adam moments and batch-norm
  // statistics, for both models and every --reg.
  EnvGuard graphs_on("STEADY_CUDA_GRAPH", "1");
  for (const std::string task : {"hdr", "color"}) {
    for (RegMode mode : {RegMode::None, RegMode::Augment, RegMode::StabilityNoise,
                         RegMode::Stability, RegMode::TransInv, RegMode::Jacobian}) {
      CAPTURE(task);
      CAPTURE(reg_mode_name(mode));
      RegConfig reg;
      reg.mode = mode;
      reg.alpha = 0.7;
      struct Run {
        std::unique_ptr<Model> model;
        Adam adam;
        StepDraws draws;
        RegularizedLoss loss;
      };
      auto make = [&] {
        Run r;
        r.model = make_model(task);
        Rng init(3);
        r.model->finalize(Device::CUDA, init);
        r.adam.attach(r.model->params());
        return r;
      };
      Run plain = make(), graphed = make();
      const int64_t B = 2, S = 32;
      const Shape xs{B, plain.model->in_channels(), S, S}, ys{B, plain.model->out_channels(), S, S};
      const Tensor x = random_unit(21, xs).to(Device::CUDA);
      const Tensor y = random_input(22, ys).to(Device::CUDA);
      Tensor mask;
      if (task == "hdr") mask = random_unit(23, {B, 1, S, S}).to(Device::CUDA);
      auto step = [&](Run& r) {
        r.model->params().zero_grad();
        auto net = [&](const Var& in) { return r.model->forward(in, true); };
        auto rec = [&](const Var& pred) { return mse(pred, Var(y)); };
        r.loss = regularized_loss(reg, Var(x), y, mask, net, rec, r.draws);
        backward(r.loss.total);
        r.adam.step(r.model->params());
      };
      cuda::StepGraph graph(1);
      Rng rng_plain(5), rng_graphed(5);
      for (int i = 0; i < 4; ++i) {
        draw_step(reg, xs, Device::CUDA, DType::F32, rng_plain, plain.draws);
        step(plain);
        draw_step(reg, xs, Device::CUDA, DType::F32, rng_graphed, graphed.draws);
        graph.run([&] { step(graphed); });
        CHECK(graphed.loss.total.value().item() == plain.loss.total.value().item());
      }
      CHECK(graph.captured());
      CHECK(same_bits(graphed.model->params().values, plain.model->params().values));
      CHECK(same_bits(graphed.adam.m, plain.adam.m));
      CHECK(same_bits(graphed.adam.v, plain.adam.v));
      CHECK(same_bits(graphed.model->params().buffer_values, plain.model->params().buffer_values));
    }
  }
}
