// bench_step: images per second for one whole training step (the forward pass of 2B images,
// the losses, the backward pass and Adam) of each model with each regularizer, and peak memory;
// on CUDA also the same step replayed from a CUDA graph (graph_ms_per_step).
//   ./bench_step [--device auto|cpu|cuda] [--batch 8] [--size 128] [--steps 5] [--repeat 3] [--json]
// ms_per_step is the median over --repeat blocks of the mean over --steps steps (the blocks'
// means in ms_per_step_blocks): one burst of another process on a shared machine then moves one
// block, not the figure. bench/torch_step.py times its steps the same way.
// Data is random (the step's cost does not depend on it). Peak memory is the CUDA caching
// allocator's peak on the GPU, the process's peak resident set on the CPU.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <vector>

#include <nlohmann/json.hpp>

#include "losses/regularizers.h"
#include "models/model.h"
#include "tools/lib/bench_report.h"
#include "tools/lib/cli.h"
#include "tools/lib/collective.h"
#ifdef STEADY_HAVE_CUDA
#include "engine/cuda/allocator.h"
#include "engine/cuda/graph.h"
#endif

using namespace steady;

namespace {

double peak_memory_mib(Device device) {
#ifdef STEADY_HAVE_CUDA
  if (device == Device::CUDA) return static_cast<double>(cuda::allocator_stats().peak_bytes) / (1 << 20);
#endif
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;  // kilobytes on Linux
}

int bench_main(int argc, char** argv) {
  Cli cli("bench_step", "[options]");
  add_bench_options(cli);
  cli.option("batch", "8", "images per batch (each step runs 2x through the network)");
  cli.option("size", "128", "image size");
  cli.option("steps", "5", "timed steps per block (after one warm-up step)");
  cli.option("repeat", "3", "timed blocks per configuration; ms/step is the median of their means");
  cli.option("models", "hdr,color", "models to time, comma separated");
  cli.option("regs", "none,stability,trans-inv,jacobian", "regularizers to time, comma separated");
  if (!cli.parse(argc, argv)) return 0;
  Device device = parse_device(cli.get("device"));
  // Under mpirun each rank times its shard's step with the all-reduce; rank 0 reports.
  Collective& comm = Collective::world();
  if (comm.rank() != 0 && !std::freopen("/dev/null", "w", stdout)) return 1;
  BenchReport report(device_name(device), comm.rank() == 0 ? cli.get("out") : std::string());
  int failures = 0;
  const int B = static_cast<int>(cli.get_int("batch", 1, 4096)), S = static_cast<int>(cli.get_int("size", 16, 4096));
  const int steps = static_cast<int>(cli.get_int("steps", 1, 1000000));
  const int repeat = static_cast<int>(cli.get_int("repeat", 1, 1000));
  auto split = [](const std::string& s) {
    std::vector<std::string> out;
    size_t start = 0;
    while (start <= s.size()) {
      size_t comma = s.find(',', start);
      if (comma == std::string::npos) comma = s.size();
      if (comma > start) out.push_back(s.substr(start, comma - start));
      start = comma + 1;
    }
    return out;
  };
  if (!cli.has("json"))
    std::printf("%-6s %-16s %10s %12s %14s\n", "model", "reg", "ms/step", "images/s", "peak MiB");
  for (const std::string& task : split(cli.get("models"))) {
    if (comm.distributed()) {
      // The all-reduce alone, of this model's flat gradient buffer, the ranks in step: its cost
      // apart from waiting for the slower rank.
      auto model = make_model(task);
      Rng rng(1);
      model->finalize(device, rng);
      Tensor& grads = model->params().grads;
      comm.average(grads);  // warm-up (and NCCL's communicator)
      backend(device).synchronize();
      const auto t0 = std::chrono::steady_clock::now();
      for (int i = 0; i < steps; ++i) comm.average(grads);
      backend(device).synchronize();  // NCCL's all-reduce is asynchronous
      const double ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / steps;
      report.add({{"model", task}, {"reg", "allreduce-only"}, {"ranks", comm.size()},
                  {"floats", grads.numel()}, {"allreduce_ms", ms}});
      if (!cli.has("json"))
        std::printf("%-6s %-16s %10.2f   (all-reduce of %lld floats over %d ranks)\n", task.c_str(),
                    "allreduce-only", ms, (long long)grads.numel(), comm.size());
    }
    for (const std::string& reg_name : split(cli.get("regs"))) {
      try {
        auto model = make_model(task);
        Rng rng(1);
        model->finalize(device, rng);
        Adam adam;
        adam.attach(model->params());
        RegConfig reg;
        reg.mode = RegMode::None;
        bool known = false;
        for (RegMode m : {RegMode::None, RegMode::Augment, RegMode::StabilityNoise,
                          RegMode::Stability, RegMode::TransInv, RegMode::Jacobian})
          if (reg_name == reg_mode_name(m)) reg.mode = m, known = true;
        STEADY_CHECK(known, "--regs: unknown regularizer '", reg_name, "'");
        const int cin = model->in_channels(), cout = model->out_channels();
        std::vector<float> xv(int64_t(B) * cin * S * S), yv(int64_t(B) * cout * S * S);
        for (float& v : xv) v = static_cast<float>(rng.uniform());
        for (float& v : yv) v = static_cast<float>(rng.uniform(-1, 1));
        Tensor x = Tensor::from_vector(xv, {B, cin, S, S}, device);
        Tensor y = Tensor::from_vector(yv, {B, cout, S, S}, device);
        auto net = [&](const Var& in) { return model->forward(in, true); };
        auto rec = [&](const Var& pred) { return mse(pred, Var(y)); };
        // Each timed step draws its transforms (or noise) on the host and uploads them, as the
        // trainer does, then runs the step: directly, or replayed from a CUDA graph.
        StepDraws draws;
        auto step = [&] {
          model->params().zero_grad();
          RegularizedLoss loss = regularized_loss(reg, Var(x), y, Tensor(), net, rec, draws);
          backward(loss.total);
          comm.average(model->params().grads);  // data parallelism: the one all-reduce
          adam.step(model->params());
        };
        auto time_steps = [&](const std::function<void()>& run, int warmup) {
          for (int i = 0; i < warmup; ++i) {
            draw_step(reg, x.shape(), device, DType::F32, rng, draws);
            run();
          }
          std::vector<double> block_ms;
          for (int r = 0; r < repeat; ++r) {
            backend(device).synchronize();
            auto t0 = std::chrono::steady_clock::now();
            for (int i = 0; i < steps; ++i) {
              draw_step(reg, x.shape(), device, DType::F32, rng, draws);
              run();
            }
            backend(device).synchronize();
            block_ms.push_back(
                std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / steps);
          }
          return block_ms;
        };
        // The median block (the lower middle one for an even count).
        auto median = [](std::vector<double> v) {
          std::sort(v.begin(), v.end());
          return v[(v.size() - 1) / 2];
        };
        const double reduce_s = comm.allreduce_seconds();
        const std::vector<double> blocks = time_steps(step, 1);
        const double ms = median(blocks);
        const double reduce_ms =
            (comm.allreduce_seconds() - reduce_s) * 1e3 / (int64_t(steps) * repeat + 1);
        double ips = B * comm.size() / (ms * 1e-3), mib = peak_memory_mib(device);
        nlohmann::json row = {{"model", task}, {"reg", reg_name}, {"batch", B}, {"size", S},
                              {"ms_per_step", ms}, {"ms_per_step_blocks", blocks},
                              {"images_per_s", ips}, {"peak_mib", mib}};
        if (comm.distributed()) {  // --batch is per rank; images/s counts every rank's
          row["ranks"] = comm.size();
          row["allreduce_ms_per_step"] = reduce_ms;
        }
        double graph_ms = 0;
#ifdef STEADY_HAVE_CUDA
        if (device == Device::CUDA && cuda::graphs_enabled_by_env() && !comm.distributed()) {
          cuda::StepGraph graph;
          graph_ms = median(time_steps([&] { graph.run(step); }, 2));  // warm-up, then the capture
          STEADY_CHECK(graph.captured(), "the step was not captured into a CUDA graph");
          row["graph_ms_per_step"] = graph_ms;
          row["graph_images_per_s"] = B / (graph_ms * 1e-3);
        }
#endif
        report.add(row);
        if (!cli.has("json")) {
          std::printf("%-6s %-16s %10.1f %12.1f %14.1f", task.c_str(), reg_name.c_str(), ms, ips, mib);
          if (graph_ms > 0) std::printf("   graph %8.1f ms/step", graph_ms);
          std::printf("\n");
        }
      } catch (const std::exception& e) {  // recorded; the other configurations still run
        std::fprintf(stderr, "bench_step: %s %s: %s\n", task.c_str(), reg_name.c_str(), e.what());
        report.add({{"model", task}, {"reg", reg_name}, {"batch", B}, {"size", S}, {"error", e.what()}});
        failures += 1;
      }
    }
  }
  if (cli.has("json")) std::printf("%s\n", report.doc().dump(1).c_str());
  return failures == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) { return run_tool("bench_step", bench_main, argc, argv); }
