// bench_ops: times each engine op at the sizes the models use, and a small conv-stack training
// step, on one device.
//   ./bench_ops [--device auto|cpu|cuda] [--repeat N] [--json] [--only SUBSTRING] [--table]
// --table times every row of the op-case table (tests/op_cases.h, the rows the op tests run) at
// its own small shapes, forward and autograd backward together: launch and dispatch overhead
// more than throughput, per op.
// Each result is the median over --repeat runs after one warm-up, with the bytes the op must
// move at least (inputs read + outputs written) and the bandwidth that implies. A plain copy of
// the same bytes is timed beside the memory-bound ops as the bandwidth they should approach.
// On the GPU the conv-stack step is timed twice: launched op by op, and replayed as one CUDA
// graph (engine/cuda/graph.h).
// bench/torch_ops.py times the same work in PyTorch; bench/compare.py prints the ratios.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>

#include <nlohmann/json.hpp>

#include "engine/ops.h"
#include "engine/params.h"
#include "losses/transform.h"
#include "tools/lib/bench_report.h"
#include "tools/lib/cli.h"
// The op-case table the op tests run (tests/op_cases.h): bench_ops --table times the same rows.
#include "tests/op_cases.h"
#ifdef STEADY_HAVE_CUDA
#include "engine/cuda/graph.h"
#endif

using namespace steady;

namespace {

struct Result {
  std::string name;
  double ms;
  double bytes;
};

Tensor random_tensor(const Shape& shape, Device device, Rng& rng, double lo = -1, double hi = 1) {
  std::vector<float> v(shape_numel(shape));
  for (float& x : v) x = static_cast<float>(rng.uniform(lo, hi));
  return Tensor::from_vector(v, shape, device);
}

double bytes_of(std::initializer_list<Shape> shapes) {
  double b = 0;
  for (const Shape& s : shapes) b += 4.0 * static_cast<double>(shape_numel(s));
  return b;
}

// The small conv-stack network of the training-step benchmark: four 3x3 convolutions
// 3 -> 32 -> 32 -> 32 -> 3 with ReLU between them, MSE against a target, Adam over the flat
// parameter buffer. bench/torch_ops.py builds the same network.
struct ConvStack {
  static constexpr int kWidth = 32;
  ParamStore store;
  Adam adam{AdamArgs{1e-4f}};
  std::vector<int> weights, biases;

  ConvStack(Device device, Rng& rng) {
    const int channels[] = {3, kWidth, kWidth, kWidth, 3};
    for (int i = 0; i < 4; ++i) {
      const int cin = channels[i], cout = channels[i + 1];
      weights.push_back(store.add_param("conv" + std::to_string(i) + ".w", {cout, cin, 3, 3},
                                        Init::HeNormal, cin * 9));
      biases.push_back(store.add_param("conv" + std::to_string(i) + ".b", {cout}, Init::Zeros));
    }
    store.finalize(device, rng);
    adam.attach(store);
  }

  // Forward, backward and Adam; reads nothing back to the host, so it can be graph-captured.
  void step(const Tensor& x, const Tensor& target) {
    store.zero_grad();
    Var h(x);
    for (size_t i = 0; i < weights.size(); ++i) {
      h = conv2d(h, store.param(weights[i]), store.param(biases[i]), 1, 1);
      if (i + 1 < weights.size()) h = relu(h);
    }
    backward(mse(h, Var(target)));
    adam.step(store);
  }
};

using TimeFn = std::function<void(const std::string&, double, const std::function<void()>&)>;

// The ops at the sizes the models use, a conv-stack training step, copies beside them.
void bench_model_sizes(Device dev, Rng& rng, const TimeFn& time,
                       const std::function<bool(const std::string&)>& selected) {
  Backend& be = backend(dev);
  // The reference size: batch 8, 128x128, 3x3, 64 -> 64 channels.
  {
    Shape xs{8, 64, 128, 128}, ws{64, 64, 3, 3};
    Var x(random_tensor(xs, dev, rng), true), w(random_tensor(ws, dev, rng, -0.05, 0.05), true);
    Var b(random_tensor({64}, dev, rng), true);
    time("conv2d_fwd 8x64x128x128 k3 64->64", bytes_of({xs, ws, xs}), [&] {
      NoGradGuard g;
      conv2d(x, w, b, 1, 1);
    });
    time("conv2d_fwd_bwd 8x64x128x128 k3 64->64", bytes_of({xs, ws, xs, xs, xs, ws}), [&] {
      backward(sum(conv2d(x, w, b, 1, 1)));
    });
  }
  // A small conv-stack training step (forward, backward, Adam).
  {
    Shape xs{8, 3, 128, 128};
    Tensor x = random_tensor(xs, dev, rng, 0, 1), target = random_tensor(xs, dev, rng, 0, 1);
    ConvStack net(dev, rng);
    const std::string name = "conv_stack_step 8x3x128x128 4x conv3x3 32ch adam";
    time(name, 0, [&] { net.step(x, target); });
#ifdef STEADY_HAVE_CUDA
    if (dev == Device::CUDA) {
      cuda::StepGraph graph;
      auto graph_step = [&] { graph.run([&] { net.step(x, target); }); };
      if (graph.enabled() && selected(name + " graph")) {
        graph_step();  // runs directly; time()'s warm-up call then captures, the timed calls replay
        time(name + " graph", 0, graph_step);
      }
    }
#endif
  }
  // HDR decoder up-sampling stage: 8x64x32x32 -> 8x32x64x64.
  {
    Shape xs{8, 64, 32, 32}, ws{64, 32, 4, 4}, ys{8, 32, 64, 64};
    Var x(random_tensor(xs, dev, rng), true), w(random_tensor(ws, dev, rng, -0.05, 0.05), true);
    Var b(random_tensor({32}, dev, rng), true);
    time("conv_transpose2d_fwd_bwd 8x64x32x32 k4s2 64->32", bytes_of({xs, ws, ys, ys, xs, ws}),
         [&] { backward(sum(conv_transpose2d(x, w, b, 2, 1, 0))); });
  }
  Shape big{8, 32, 128, 128}, half{8, 32, 64, 64};
  Tensor a = random_tensor(big, dev, rng), c = random_tensor(big, dev, rng);
  {
    Tensor copy_dst = Tensor::empty(big, dev);
    time("copy 8x32x128x128", bytes_of({big, big}), [&] { copy_dst.copy_from(a); });
  }
  time("max_pool2d k2s2 8x32x128x128", bytes_of({big, half}), [&] { be.max_pool2d(a, 2, 2); });
  Tensor ah = random_tensor(half, dev, rng);
  time("upsample_nearest2d x2 8x32x64x64", bytes_of({half, big}), [&] { be.upsample_nearest2d(ah, 2); });
  Shape ab_half{8, 2, 64, 64}, ab{8, 2, 128, 128};
  Tensor abh = random_tensor(ab_half, dev, rng), abf = random_tensor(ab, dev, rng);
  time("resize_bilinear 8x2x64x64->128", bytes_of({ab_half, ab}), [&] { be.resize_bilinear(abh, 128, 128); });
  time("resize_bilinear_bwd 8x2x128->64", bytes_of({ab, ab_half}), [&] { be.resize_bilinear_backward(abf, 64, 64); });
  time("concat_channels 2x 8x32x128x128", bytes_of({big, big, big, big}), [&] { be.concat_channels({a, c}); });
  {
    Tensor gamma = random_tensor({32}, dev, rng), beta = random_tensor({32}, dev, rng);
    Tensor rm = Tensor::zeros({32}, dev), rv = Tensor::full({32}, 1.0, dev);
    BatchNormSaved saved;
    time("batch_norm_train 8x32x128x128", bytes_of({big, big, big}),
         [&] { be.batch_norm_train(a, gamma, beta, rm, rv, 0.1f, 1e-5f, saved); });
    Tensor gg, gb;
    time("batch_norm_bwd 8x32x128x128", bytes_of({big, big, big, big}),
         [&] { be.batch_norm_backward(a, gamma, saved, c, gg, gb); });
  }
  time("relu 8x32x128x128", bytes_of({big, big}), [&] { be.unary(UnaryOp::Relu, a, 0.f); });
  time("add 8x32x128x128", bytes_of({big, big, big}), [&] { be.binary(BinaryOp::Add, a, c); });
  time("sum 8x32x128x128", bytes_of({big}), [&] { be.sum(a); });
  {
    Shape ps{1568698};
    Tensor p = random_tensor(ps, dev, rng), g = random_tensor(ps, dev, rng);
    Tensor m = Tensor::zeros(ps, dev), v = Tensor::zeros(ps, dev);
    AdamArgs args;
    time("adam 1568698 params", bytes_of({ps, ps, ps, ps, ps, ps, ps}), [&] { be.adam_step(p, g, m, v, args); });
  }
  {
    Shape is{16, 3, 128, 128};
    Tensor img = random_tensor(is, dev, rng);
    Tensor copy_dst = Tensor::empty(is, dev);
    time("copy 16x3x128x128", bytes_of({is, is}), [&] { copy_dst.copy_from(img); });
    Tensor matrix = random_transform_matrices(16, 128, 128, 1.0, rng, dev);
    time("warp_affine_fwd 16x3x128x128", bytes_of({is, is}), [&] { be.warp_affine_forward(img, matrix); });
    time("warp_affine_bwd 16x3x128x128", bytes_of({is, is}), [&] { be.warp_affine_backward(img, matrix); });
    Tensor fx = random_tensor(is, dev, rng), ftx = random_tensor(is, dev, rng), y = random_tensor(is, dev, rng);
    Tensor mask = Tensor::full({16, 1, 128, 128}, 1.0, dev);
    for (auto [kind, name] : {std::pair{RegKind::Stability, "stability"}, {RegKind::TransInv, "trans-inv"},
                              {RegKind::Jacobian, "jacobian"}}) {
      double bytes = bytes_of({is, is, is, is}) + (kind == RegKind::Jacobian ? bytes_of({is}) : 0);
      time(std::string("reg_loss_fused ") + name + " 16x3x128x128", bytes,
           [&, kind = kind] { be.reg_loss(kind, fx, ftx, y, matrix, mask); });
    }
    // The same trans-inv loss composed from plain ops, for the fused-vs-composed ratio.
    Var vfx(fx, true), vftx(ftx, true);
    Var vmask(be.concat_channels({mask, mask, mask}));
    time("reg_loss_composed trans-inv 16x3x128x128", bytes_of({is, is, is, is}), [&] {
      Var d = sub(vftx, warp_affine(vfx, matrix));
      backward(scale(sum(mul(vmask, mul(d, d))), 1.0 / double(shape_numel(is))));
    });
  }

}

int bench_main(int argc, char** argv) {
  Cli cli("bench_ops", "[options]");
  add_bench_options(cli);
  cli.option("repeat", "5", "timed runs per op (the median is reported)");
  cli.option("only", "", "run only ops whose name contains this");
  cli.flag("table", "time the rows of the op-case table (tests/op_cases.h) instead");
  if (!cli.parse(argc, argv)) return 0;
  Device dev = parse_device(cli.get("device"));
  BenchReport report(device_name(dev), cli.get("out"));
  int repeat = static_cast<int>(cli.get_int("repeat", 1, 1000000));
  Backend& be = backend(dev);
  Rng rng(1234);
  std::vector<Result> results;
  int failures = 0;

  auto selected = [&](const std::string& name) {
    return cli.get("only").empty() || name.find(cli.get("only")) != std::string::npos;
  };
  auto time = [&](const std::string& name, double bytes, const std::function<void()>& fn) {
    if (!selected(name)) return;
    std::vector<double> ms;
    try {
      fn();
      be.synchronize();
      for (int r = 0; r < repeat; ++r) {
        auto t0 = std::chrono::steady_clock::now();
        fn();
        be.synchronize();
        ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      }
    } catch (const std::exception& e) {  // recorded; the other ops still run
      std::fprintf(stderr, "bench_ops: %s: %s\n", name.c_str(), e.what());
      report.add({{"name", name}, {"error", e.what()}});
      failures += 1;
      return;
    }
    std::sort(ms.begin(), ms.end());
    results.push_back({name, ms[ms.size() / 2], bytes});
    report.add({{"name", name}, {"ms", ms[ms.size() / 2]}, {"bytes", bytes},
                {"gbps", bytes / (ms[ms.size() / 2] * 1e-3) / 1e9}});
    if (!cli.has("json"))
      std::fprintf(stderr, "  %-44s %10.3f ms\n", name.c_str(), ms[ms.size() / 2]);
  };

  if (cli.has("table")) {
    for (const op_cases::Case& c : op_cases::cases()) {
      std::vector<Tensor> in;
      for (const op_cases::Input& i : c.inputs)
        in.push_back(op_cases::make_input(i, rng).to(DType::F32).to(dev));
      time("table: " + c.name, 0, [&] {
        if (c.values) {
          c.values(in);
          return;
        }
        std::vector<Var> vars;
        for (size_t k = 0; k < in.size(); ++k) vars.emplace_back(in[k], c.inputs[k].grad);
        backward(sum(c.var(vars)));
      });
    }
  }
  if (!cli.has("table")) bench_model_sizes(dev, rng, time, selected);

  if (cli.has("json")) {
    std::printf("%s\n", report.doc().dump(1).c_str());
  } else {
    std::printf("%-46s %10s %10s\n", "op", "ms", "GB/s");
    for (const Result& r : results) {
      if (r.bytes > 0) {
        std::printf("%-46s %10.3f %10.2f\n", r.name.c_str(), r.ms, r.bytes / (r.ms * 1e-3) / 1e9);
      } else {
        std::printf("%-46s %10.3f %10s\n", r.name.c_str(), r.ms, "-");
      }
    }
  }
  return failures == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) { return run_tool("bench_ops", bench_main, argc, argv); }
