// StepGraph: stream capture of a training step into a CUDA graph, and its replays (graph.h).
#include "engine/cuda/graph.h"

#include <cstdlib>
#include <cstring>

#include "engine/cuda/allocator.h"
#include "engine/cuda/runtime.h"

namespace steady {
namespace cuda {

bool graphs_enabled_by_env() {
  const char* v = std::getenv("STEADY_CUDA_GRAPH");
  return !(v && std::strcmp(v, "0") == 0);
}

StepGraph::StepGraph(int warmup) : enabled_(graphs_enabled_by_env()), warmup_(warmup) {
  STEADY_CHECK(warmup >= 1, "StepGraph: at least one uncaptured warm-up step is needed, got ",
               warmup);
}

StepGraph::~StepGraph() {
  // Destructors must not throw: errors here are ignored (the next CUDA call reports them).
  if (exec_) {
    cudaStreamSynchronize(stream());
    cudaGraphExecDestroy(static_cast<cudaGraphExec_t>(exec_));
    cudaGetLastError();
  }
  if (pool_) release_graph_pool(pool_);
}

void StepGraph::reset() {
  if (exec_) {
    CUDA_CHECK(cudaStreamSynchronize(stream()));
    CUDA_CHECK(cudaGraphExecDestroy(static_cast<cudaGraphExec_t>(exec_)));
    exec_ = nullptr;
  }
  if (pool_) release_graph_pool(pool_);
  pool_ = 0;
  warmed_ = 0;
  replays_ = 0;
}

void StepGraph::run(const std::function<void()>& step) {
  if (!enabled_) {
    step();
    return;
  }
  if (exec_) {
    CUDA_CHECK(cudaGraphLaunch(static_cast<cudaGraphExec_t>(exec_), stream()));
    ++replays_;
    return;
  }
  if (warmed_ < warmup_) {
    step();
    ++warmed_;
    return;
  }
  capture(step);
  CUDA_CHECK(cudaGraphLaunch(static_cast<cudaGraphExec_t>(exec_), stream()));
  ++replays_;
}

void StepGraph::capture(const std::function<void()>& step) {
  // Until the capture succeeds: after a failure later steps run uncaptured instead of failing
  // the same way again.
  enabled_ = false;
  pool_ = begin_graph_pool();
  // Ends a failed capture so the stream is usable again, and gives the pool back.
  auto abandon = [&] {
    cudaGraph_t broken = nullptr;
    cudaStreamEndCapture(stream(), &broken);
    if (broken) cudaGraphDestroy(broken);
    cudaGetLastError();
    end_graph_pool();
    release_graph_pool(pool_);
    pool_ = 0;
  };
  const cudaError_t begin = cudaStreamBeginCapture(stream(), cudaStreamCaptureModeThreadLocal);
  if (begin != cudaSuccess) {
    end_graph_pool();
    release_graph_pool(pool_);
    pool_ = 0;
    CUDA_CHECK(begin);
  }
  try {
    step();
  } catch (const Error& e) {
    abandon();
    fail("CUDA graph capture of the training step failed: ", e.what());
  } catch (...) {
    abandon();
    throw;
  }
  cudaGraph_t graph = nullptr;
  const cudaError_t end = cudaStreamEndCapture(stream(), &graph);
  end_graph_pool();
  if (end != cudaSuccess || graph == nullptr) {
    cudaGetLastError();
    release_graph_pool(pool_);
    pool_ = 0;
    fail("CUDA graph capture of the training step failed: cudaStreamEndCapture: ",
         cudaGetErrorString(end), " (the step did something a graph cannot hold, such as a ",
         "copy to the host or a synchronization)");
  }
  cudaGraphExec_t exec = nullptr;
  const cudaError_t inst = cudaGraphInstantiate(&exec, graph, 0);
  cudaGraphDestroy(graph);
  if (inst != cudaSuccess) {
    release_graph_pool(pool_);
    pool_ = 0;
    CUDA_CHECK(inst);
  }
  exec_ = exec;
  enabled_ = true;
}

}  // namespace cuda
}  // namespace steady
