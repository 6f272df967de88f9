// CUDA-graph capture of a training step. A step of fixed shapes launches the same few hundred
// kernels every time; capturing them once into a graph and replaying it removes the per-launch
// CPU cost. Usage:
//
//   cuda::StepGraph graph;            // off when STEADY_CUDA_GRAPH=0
//   for (...) {
//     input.copy_from(next_batch);    // inputs live in tensors allocated once, outside the step
//     graph.run([&] { train_step(); });
//   }
//
// The first `warmup` calls run the step directly (they choose cuDNN algorithms, load kernels and
// fill the allocator's cache); the next call captures the step and launches the graph; later
// calls only replay it. The step must then behave the same every time: same shapes, no reads of
// results on the host (no item(), no copies to the host) and no writes to tensors that do not
// outlive the graph. Allocations inside the capture come from the allocator's cache and belong to
// the graph (engine/cuda/allocator.h). Adam's step number advances on the device on every replay
// (kernels/adam.cu); the host's Adam::steps() does not, so set it with set_steps() before saving
// a checkpoint or running the step uncaptured again (after reset()).
//
// A capture that fails (the step read a result back, synchronized, or needed new memory) throws
// a clear error and turns the graph off: later calls run the step directly. The failed step's
// host-side effects happened (Adam's host step count advanced), its kernels never ran.
// Plain C++ header (no CUDA types).
#pragma once
#include <cstdint>
#include <functional>

namespace steady {
namespace cuda {

class StepGraph {
 public:
  explicit StepGraph(int warmup = 1);
  ~StepGraph();
  StepGraph(const StepGraph&) = delete;
  StepGraph& operator=(const StepGraph&) = delete;

  // Runs one step: directly, by capturing it, or by replaying the captured graph.
  void run(const std::function<void()>& step);
  // Drops the graph (for example when shapes change); the next calls warm up and capture again.
  void reset();

  bool enabled() const { return enabled_; }  // false when STEADY_CUDA_GRAPH=0 or capture failed
  bool captured() const { return exec_ != nullptr; }
  int64_t replays() const { return replays_; }  // graph launches, the capturing one included

 private:
  void capture(const std::function<void()>& step);
  bool enabled_;
  int warmup_;
  int warmed_ = 0;
  int pool_ = 0;             // the allocator pool holding the graph's blocks
  void* exec_ = nullptr;     // cudaGraphExec_t
  int64_t replays_ = 0;
};

// False when the environment says STEADY_CUDA_GRAPH=0.
bool graphs_enabled_by_env();

}  // namespace cuda
}  // namespace steady
