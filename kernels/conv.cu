// CUDA convolutions through cuDNN (v9, legacy convolution API), float32, PyTorch semantics.
//
// As on the CPU (kernels/conv.cpp), everything is one plain cross-correlation seen from three
// sides. The "image" side is the larger tensor [N, C_im, H_im, W_im], the "columns" side the
// smaller one [N, C_col, H_col, W_col], the filter [C_col, C_im, k, k]:
//   forward          image -> columns   conv2d forward; conv_transpose2d grad_x
//   backward data    columns -> image   conv2d grad_x;  conv_transpose2d forward
//   backward filter  (image, columns gradient) -> filter gradient, for both
// conv2d's image is x; conv_transpose2d's image is its output and its w [Ci, Co, k, k] already is
// the [C_col, C_im, k, k] filter. Bias add and bias gradient are our own kernels
// (kernels/conv_bias.cu).
//
// Per geometry (and determinism setting) a plan holds the descriptors, made once, and for each
// direction the candidate algorithms from cudnnGet*Algorithm_v7 (cuDNN's heuristic ranking, no
// benchmarking, so the choice is reproducible), keeping those that succeed, fit the workspace
// limit, are deterministic when asked, and use no TF32 unless STEADY_TF32=1; the deterministic
// implicit-GEMM algorithm of each direction is always the last resort. The first candidate that
// runs successfully is remembered. All convolutions share one workspace that only grows; an
// outgrown workspace is kept (not freed), since a captured CUDA graph may still use it.
#include <array>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "engine/conv_geometry.h"
#include "engine/cuda/allocator.h"
#include "kernels/conv_bias.h"
#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/runtime.h"

namespace steady {
namespace {

// Shapes of one convolution, named from the image / columns sides described above.
struct ConvGeometry : ConvShape {

  std::array<int64_t, 10> key() const {
    return {batch, c_im, h_im, w_im, c_col, h_col, w_col, k, stride, pad};
  }
  std::string str() const {
    return "image " + shape_str({batch, c_im, h_im, w_im}) + ", columns " +
           shape_str({batch, c_col, h_col, w_col}) + ", kernel " + std::to_string(k) +
           ", stride " + std::to_string(stride) + ", pad " + std::to_string(pad);
  }
};


// The geometry the entry point checked, within cuDNN's int range.
ConvGeometry cudnn_geometry(const char* op, const ConvShape& shape) {
  ConvGeometry g;
  static_cast<ConvShape&>(g) = shape;
  for (int64_t v : g.key()) {
    STEADY_CHECK(v <= INT_MAX, op, ": a dimension of ", g.str(), " exceeds cuDNN's int range");
  }
  return g;
}

// ---- plans

enum Direction { kForward = 0, kBackwardData = 1, kBackwardFilter = 2 };

const char* direction_name(Direction d) {
  return d == kForward ? "forward" : d == kBackwardData ? "backward-data" : "backward-filter";
}

struct Candidate {
  int algo;  // cudnnConvolution{Fwd,BwdData,BwdFilter}Algo_t of the direction
  cudnnMathType_t math;
  size_t workspace;
};

struct ConvPlan {
  cudnnTensorDescriptor_t image = nullptr, columns = nullptr;
  cudnnFilterDescriptor_t filter = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;
  cudnnMathType_t base_math = CUDNN_FMA_MATH;
  bool deterministic = false;
  bool listed[3] = {false, false, false};
  std::vector<Candidate> candidates[3];
  int chosen[3] = {-1, -1, -1};  // index into candidates, once one has run
};

std::unique_ptr<ConvPlan> make_plan(const ConvGeometry& g, bool deterministic) {
  auto p = std::make_unique<ConvPlan>();
  auto i = [](int64_t v) { return static_cast<int>(v); };
  p->deterministic = deterministic;
  // FMA math keeps float32 convolutions off the TF32 tensor-core path; DEFAULT allows it.
  p->base_math = cuda::tf32_enabled() ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH;
  CUDNN_CHECK(cudnnCreateTensorDescriptor(&p->image));
  CUDNN_CHECK(cudnnSetTensor4dDescriptor(p->image, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT,
                                         i(g.batch), i(g.c_im), i(g.h_im), i(g.w_im)));
  CUDNN_CHECK(cudnnCreateTensorDescriptor(&p->columns));
  CUDNN_CHECK(cudnnSetTensor4dDescriptor(p->columns, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT,
                                         i(g.batch), i(g.c_col), i(g.h_col), i(g.w_col)));
  CUDNN_CHECK(cudnnCreateFilterDescriptor(&p->filter));
  CUDNN_CHECK(cudnnSetFilter4dDescriptor(p->filter, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW,
                                         i(g.c_col), i(g.c_im), i(g.k), i(g.k)));
  CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&p->conv));
  CUDNN_CHECK(cudnnSetConvolution2dDescriptor(p->conv, i(g.pad), i(g.pad), i(g.stride),
                                              i(g.stride), 1, 1, CUDNN_CROSS_CORRELATION,
                                              CUDNN_DATA_FLOAT));
  CUDNN_CHECK(cudnnSetConvolutionMathType(p->conv, p->base_math));
  // cuDNN must see the same columns shape as we do (conv_transpose2d's output_pad < stride
  // vanishes in the floor division).
  int on = 0, oc = 0, oh = 0, ow = 0;
  CUDNN_CHECK(cudnnGetConvolution2dForwardOutputDim(p->conv, p->image, p->filter, &on, &oc, &oh,
                                                    &ow));
  STEADY_ASSERT(on == g.batch && oc == g.c_col && oh == g.h_col && ow == g.w_col);
  return p;
}

// Whether (algo, math) is among the candidates already (the ranking may name an algorithm once
// per math type, and the fallback may be ranked too).
bool listed(const std::vector<Candidate>& out, int algo, cudnnMathType_t math) {
  for (const Candidate& c : out)
    if (c.algo == algo && c.math == math) return true;
  return false;
}

template <class Perf>
bool acceptable(const Perf& perf, bool deterministic) {
  if (perf.status != CUDNN_STATUS_SUCCESS) return false;
  if (deterministic && perf.determinism != CUDNN_DETERMINISTIC) return false;
  // Never down-conversion of float32 data to half precision.
  if (perf.mathType == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION) return false;
  if (!cuda::tf32_enabled() && perf.mathType != CUDNN_FMA_MATH &&
      perf.mathType != CUDNN_DEFAULT_MATH) {
    return false;  // a tensor-op math type: TF32 for float32 data
  }
  return true;
}

// The workspace `algo` needs with the math type currently set on p.conv.
cudnnStatus_t workspace_size(const ConvPlan& p, Direction dir, int algo, size_t* bytes) {
  cudnnHandle_t h = cuda::cudnn_handle();
  switch (dir) {
    case kForward:
      return cudnnGetConvolutionForwardWorkspaceSize(
          h, p.image, p.filter, p.conv, p.columns, static_cast<cudnnConvolutionFwdAlgo_t>(algo),
          bytes);
    case kBackwardData:
      return cudnnGetConvolutionBackwardDataWorkspaceSize(
          h, p.filter, p.columns, p.conv, p.image,
          static_cast<cudnnConvolutionBwdDataAlgo_t>(algo), bytes);
    case kBackwardFilter:
      return cudnnGetConvolutionBackwardFilterWorkspaceSize(
          h, p.image, p.columns, p.conv, p.filter,
          static_cast<cudnnConvolutionBwdFilterAlgo_t>(algo), bytes);
  }
  return CUDNN_STATUS_BAD_PARAM;
}

// The heuristic's ranking, filtered. With TF32 off every candidate runs with FMA math (set on
// p.conv by the caller), so its workspace is asked for again under that math type: the ranking
// may describe an entry under DEFAULT math, whose kernels and workspace can differ.
template <class Perf>
void add_ranked(std::vector<Candidate>& out, const Perf* perf, int count, const ConvPlan& p,
                Direction dir) {
  const size_t limit = cuda::cudnn_workspace_limit();
  for (int r = 0; r < count; ++r) {
    if (!acceptable(perf[r], p.deterministic)) continue;
    const int algo = static_cast<int>(perf[r].algo);
    size_t bytes = perf[r].memory;
    cudnnMathType_t math = perf[r].mathType;
    if (!cuda::tf32_enabled()) {
      math = CUDNN_FMA_MATH;
      if (workspace_size(p, dir, algo, &bytes) != CUDNN_STATUS_SUCCESS) continue;
    }
    if (bytes <= limit && !listed(out, algo, math)) out.push_back(Candidate{algo, math, bytes});
  }
}

// The implicit-GEMM algorithm of a direction, last: it needs (almost) no workspace.
void add_fallback(std::vector<Candidate>& out, int algo, const ConvPlan& p, Direction dir) {
  if (listed(out, algo, p.base_math)) return;
  size_t bytes = 0;
  if (workspace_size(p, dir, algo, &bytes) != CUDNN_STATUS_SUCCESS) return;
  out.push_back(Candidate{algo, p.base_math, bytes});
}

void list_candidates(ConvPlan& p, Direction dir) {
  cudnnHandle_t h = cuda::cudnn_handle();
  CUDNN_CHECK(cudnnSetConvolutionMathType(p.conv, p.base_math));
  std::vector<Candidate>& out = p.candidates[dir];
  int returned = 0;
  switch (dir) {
    case kForward: {
      cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
      CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(h, p.image, p.filter, p.conv, p.columns,
                                                         CUDNN_CONVOLUTION_FWD_ALGO_COUNT,
                                                         &returned, perf));
      add_ranked(out, perf, returned, p, dir);
      add_fallback(out, CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, p, dir);
      break;
    }
    case kBackwardData: {
      cudnnConvolutionBwdDataAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
      CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(
          h, p.filter, p.columns, p.conv, p.image, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT,
          &returned, perf));
      add_ranked(out, perf, returned, p, dir);
      add_fallback(out, CUDNN_CONVOLUTION_BWD_DATA_ALGO_1, p, dir);  // implicit GEMM, deterministic
      break;
    }
    case kBackwardFilter: {
      cudnnConvolutionBwdFilterAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
      CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(
          h, p.image, p.columns, p.conv, p.filter, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT,
          &returned, perf));
      add_ranked(out, perf, returned, p, dir);
      add_fallback(out, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1, p, dir);  // implicit GEMM, deterministic
      break;
    }
  }
  p.listed[dir] = true;
}

std::mutex& conv_mutex() {
  static std::mutex mu;
  return mu;
}

ConvPlan& plan_for(const ConvGeometry& g) {
  static std::map<std::pair<std::array<int64_t, 10>, bool>, std::unique_ptr<ConvPlan>> plans;
  const bool det = cuda::deterministic();
  auto& slot = plans[{g.key(), det}];
  if (!slot) slot = make_plan(g, det);
  return *slot;
}

// The shared workspace: grows to the largest request; outgrown blocks stay allocated because a
// captured graph may hold their address.
void* workspace(size_t bytes) {
  static void* ptr = nullptr;
  static size_t size = 0;
  static std::vector<void*> outgrown;
  if (bytes > size) {
    if (ptr) outgrown.push_back(ptr);
    ptr = cuda::device_alloc(bytes);
    size = bytes;
  }
  return ptr;
}

// STEADY_CUDNN_LOG=1: one line on stderr per geometry and direction, naming the algorithm that
// ran first (and is kept), its math type, its workspace and its rank among the candidates.
void log_choice(const ConvGeometry& g, Direction dir, const Candidate& c, size_t rank,
                size_t count) {
  static const bool enabled = [] {
    const char* v = std::getenv("STEADY_CUDNN_LOG");
    return v && *v && std::strcmp(v, "0") != 0;
  }();
  if (!enabled) return;
  std::fprintf(stderr, "cudnn: %s %s: algorithm %d, math %s, workspace %zu bytes, candidate %zu of %zu\n",
               direction_name(dir), g.str().c_str(), c.algo,
               c.math == CUDNN_TENSOR_OP_MATH ? "tensor-op"
               : c.math == CUDNN_FMA_MATH     ? "fma"
                                              : "default",
               c.workspace, rank + 1, count);
}

// Runs one direction of a plan: run(algo, workspace, bytes) issues the cuDNN call. The remembered
// algorithm goes first; otherwise the candidates in rank order until one succeeds.
template <class Run>
void execute(const char* op, const ConvGeometry& g, ConvPlan& p, Direction dir, Run run) {
  if (!p.listed[dir]) list_candidates(p, dir);
  const std::vector<Candidate>& cands = p.candidates[dir];
  auto attempt = [&](const Candidate& c) {
    void* ws = nullptr;
    try {
      ws = workspace(c.workspace);
    } catch (const Error&) {
      // No memory for this algorithm's workspace (or none may be allocated now, inside a
      // graph capture): try the next, smaller one; implicit GEMM needs almost none.
      return CUDNN_STATUS_ALLOC_FAILED;
    }
    CUDNN_CHECK(cudnnSetConvolutionMathType(p.conv, c.math));
    return run(c.algo, ws, c.workspace);
  };
  const int chosen = p.chosen[dir];
  if (chosen >= 0 && attempt(cands[chosen]) == CUDNN_STATUS_SUCCESS) return;
  cudnnStatus_t last = CUDNN_STATUS_NOT_SUPPORTED;
  for (size_t i = 0; i < cands.size(); ++i) {
    if (static_cast<int>(i) == chosen) continue;
    last = attempt(cands[i]);
    if (last == CUDNN_STATUS_SUCCESS) {
      if (chosen < 0) {
        p.chosen[dir] = static_cast<int>(i);
        log_choice(g, dir, cands[i], i, cands.size());
      }
      return;
    }
  }
  fail(op, ": no cuDNN ", direction_name(dir), " algorithm ran for ", g.str(), " (",
       cands.size(), " candidates, last status ", cudnnGetErrorString(last), ")");
}

const float kOne = 1.f, kZero = 0.f;

// columns = conv(image, filter)
void run_forward(const char* op, const ConvGeometry& g, const float* image, const float* filter,
                 float* columns) {
  ConvPlan& p = plan_for(g);
  execute(op, g, p, kForward, [&](int algo, void* ws, size_t bytes) {
    return cudnnConvolutionForward(cuda::cudnn_handle(), &kOne, p.image, image, p.filter, filter,
                                   p.conv, static_cast<cudnnConvolutionFwdAlgo_t>(algo), ws,
                                   bytes, &kZero, p.columns, columns);
  });
}

// image = conv^T(columns, filter)
void run_backward_data(const char* op, const ConvGeometry& g, const float* filter,
                       const float* columns, float* image) {
  ConvPlan& p = plan_for(g);
  execute(op, g, p, kBackwardData, [&](int algo, void* ws, size_t bytes) {
    return cudnnConvolutionBackwardData(cuda::cudnn_handle(), &kOne, p.filter, filter, p.columns,
                                        columns, p.conv,
                                        static_cast<cudnnConvolutionBwdDataAlgo_t>(algo), ws,
                                        bytes, &kZero, p.image, image);
  });
}

// filter_grad = d<columns_grad, conv(image, filter)>/d filter
void run_backward_filter(const char* op, const ConvGeometry& g, const float* image,
                         const float* columns_grad, float* filter_grad) {
  ConvPlan& p = plan_for(g);
  execute(op, g, p, kBackwardFilter, [&](int algo, void* ws, size_t bytes) {
    return cudnnConvolutionBackwardFilter(cuda::cudnn_handle(), &kOne, p.image, image, p.columns,
                                          columns_grad, p.conv,
                                          static_cast<cudnnConvolutionBwdFilterAlgo_t>(algo), ws,
                                          bytes, &kZero, p.filter, filter_grad);
  });
}

void bias_grad(const Tensor& gy, Tensor& gb) {
  cuda::channel_sum(gy.data<float>(), gb.data<float>(), gy.size(0), gy.size(1),
                    gy.size(2) * gy.size(3));
}

}  // namespace

void CudaBackend::conv2d_impl(const ConvShape& shape, const Tensor& x, const Tensor& w,
                              const Tensor& b, Tensor& y) {
  const char* op = "conv2d";
  const ConvGeometry g = cudnn_geometry(op, shape);
  std::lock_guard<std::mutex> lock(conv_mutex());
  run_forward(op, g, x.data<float>(), w.data<float>(), y.data<float>());
  if (b.defined()) {
    cuda::add_channel_bias(y.data<float>(), b.data<float>(), g.batch, g.c_col, g.h_col * g.w_col);
  }
}

void CudaBackend::conv2d_backward_impl(const ConvShape& shape, const Tensor& x, const Tensor& w,
                                       const Tensor& gy, ConvGrads& r) {
  const char* op = "conv2d_backward";
  const ConvGeometry g = cudnn_geometry(op, shape);
  std::lock_guard<std::mutex> lock(conv_mutex());
  if (r.grad_x.defined())
    run_backward_data(op, g, w.data<float>(), gy.data<float>(), r.grad_x.data<float>());
  run_backward_filter(op, g, x.data<float>(), gy.data<float>(), r.grad_w.data<float>());
  if (r.grad_b.defined()) bias_grad(gy, r.grad_b);
}

void CudaBackend::conv_transpose2d_impl(const ConvShape& shape, const Tensor& x, const Tensor& w,
                                        const Tensor& b, Tensor& y) {
  const char* op = "conv_transpose2d";
  const ConvGeometry g = cudnn_geometry(op, shape);
  std::lock_guard<std::mutex> lock(conv_mutex());
  run_backward_data(op, g, w.data<float>(), x.data<float>(), y.data<float>());
  if (b.defined()) {
    cuda::add_channel_bias(y.data<float>(), b.data<float>(), g.batch, g.c_im, g.h_im * g.w_im);
  }
}

void CudaBackend::conv_transpose2d_backward_impl(const ConvShape& shape, const Tensor& x,
                                                 const Tensor& w, const Tensor& gy,
                                                 ConvGrads& r) {
  const char* op = "conv_transpose2d_backward";
  const ConvGeometry g = cudnn_geometry(op, shape);
  std::lock_guard<std::mutex> lock(conv_mutex());
  // x is the columns side: its gradient is the plain convolution of gy.
  if (r.grad_x.defined())
    run_forward(op, g, gy.data<float>(), w.data<float>(), r.grad_x.data<float>());
  run_backward_filter(op, g, gy.data<float>(), x.data<float>(), r.grad_w.data<float>());
  if (r.grad_b.defined()) bias_grad(gy, r.grad_b);
}

}  // namespace steady
