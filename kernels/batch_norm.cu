// Batch normalization on CUDA over x [N, C, ...] float32, per channel c over the M = N*H*W
// values of that channel:
//  - train: batch mean and biased variance (two passes, in double), y = (x - mean) * invstd *
//    gamma + beta with invstd = 1/sqrt(var + eps); running statistics updated in place with
//    PyTorch's momentum convention and the unbiased variance var*M/(M-1); saved.mean and
//    saved.invstd filled for the backward pass.
//  - eval: the same affine map with the running statistics (one thread per element).
//  - backward: grad_beta = sum(gy), grad_gamma = sum(gy xhat), grad_x = gamma invstd (gy -
//    grad_beta/M - xhat grad_gamma/M).
// Train and backward run on a channels x splits grid sized to fill the chip (engine/cuda/
// reduce.cuh): each block reduces its split with a fixed tree in double, a finishing pass adds a
// channel's partials in split order (deterministic, no atomics), and the outputs are written
// split by split.
// CPU twin: kernels/batch_norm.cpp (same formulas in double). Tested by tests/gpu_ops (against
// the CPU on random inputs and several shapes, running statistics and the [C] outputs checked
// through views with guard values around them, outputs poisoned).
#include <cmath>

#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/reduce.cuh"
#include "engine/cuda/runtime.h"

namespace steady {

namespace {

constexpr int kThreads = 256;  // per block of a channel's split
constexpr int kEvalThreads = 256;


// Training runs on a channels x splits grid (engine/cuda/reduce.cuh): partial sums per split,
// finished per channel in split order, then the outputs, split by split.

// Block (c, s): the sum of x over split s of channel c; with mean != null, of (x - mean[c])^2.
__global__ void channel_partial_kernel(const float* x, const double* mean, double* partial,
                                       int64_t n, int64_t channels, int64_t plane, int64_t chunk) {
  __shared__ double shared[kThreads];
  const cuda::SplitRange r = cuda::split_range(plane, chunk);
  const double m = mean ? mean[r.c] : 0.0;
  double acc = 0.0;
  for (int64_t b = 0; b < n; ++b) {
    const float* p = x + (b * channels + r.c) * plane;
    for (int64_t i = r.begin + threadIdx.x; i < r.end; i += kThreads) {
      const double v = static_cast<double>(p[i]) - m;
      acc += mean ? v * v : v;
    }
  }
  const double total = cuda::block_sum<kThreads>(acc, shared);
  if (threadIdx.x == 0) partial[r.c * gridDim.y + blockIdx.y] = total;
}

// Thread c: the mean of channel c from its partial sums.
__global__ void channel_mean_kernel(const double* partial, double* mean, int64_t channels,
                                    int64_t splits, double count) {
  const int64_t c = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (c >= channels) return;
  double total = 0.0;
  for (int64_t s = 0; s < splits; ++s) total += partial[c * splits + s];
  mean[c] = total / count;
}

// Thread c: variance, the running statistics, saved mean and invstd, and the affine map
// y = centered * scale + shift into affine[2c], affine[2c+1].
__global__ void batch_norm_stats_kernel(const double* partial, const double* mean,
                                        const float* gamma, const float* beta,
                                        float* running_mean, float* running_var,
                                        float* saved_mean, float* saved_invstd, double* affine,
                                        int64_t channels, int64_t splits, double count,
                                        double momentum, double eps) {
  const int64_t c = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (c >= channels) return;
  double sq = 0.0;
  for (int64_t s = 0; s < splits; ++s) sq += partial[c * splits + s];
  const double var = sq / count;
  const double invstd = 1.0 / sqrt(var + eps);
  affine[2 * c] = invstd * static_cast<double>(gamma[c]);
  affine[2 * c + 1] = static_cast<double>(beta[c]);
  const double unbiased = var * count / (count - 1.0);
  running_mean[c] = static_cast<float>((1.0 - momentum) * static_cast<double>(running_mean[c]) +
                                       momentum * mean[c]);
  running_var[c] = static_cast<float>((1.0 - momentum) * static_cast<double>(running_var[c]) +
                                      momentum * unbiased);
  saved_mean[c] = static_cast<float>(mean[c]);
  saved_invstd[c] = static_cast<float>(invstd);
}

// Block (c, s): the outputs of split s of channel c.
__global__ void batch_norm_apply_kernel(const float* x, const double* mean, const double* affine,
                                        float* y, int64_t n, int64_t channels, int64_t plane,
                                        int64_t chunk) {
  const cuda::SplitRange r = cuda::split_range(plane, chunk);
  const double m = mean[r.c], scale = affine[2 * r.c], shift = affine[2 * r.c + 1];
  for (int64_t b = 0; b < n; ++b) {
    const int64_t base = (b * channels + r.c) * plane;
    for (int64_t i = r.begin + threadIdx.x; i < r.end; i += kThreads) {
      const double centered = static_cast<double>(x[base + i]) - m;
      y[base + i] = static_cast<float>(__dadd_rn(__dmul_rn(centered, scale), shift));
    }
  }
}

__global__ void batch_norm_eval_kernel(const float* x, const float* gamma, const float* beta,
                                       const float* running_mean, const float* running_var,
                                       float* y, int64_t total, int64_t channels, int64_t plane,
                                       double eps) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t c = (i / plane) % channels;
    const double mean = static_cast<double>(running_mean[c]);
    const double scale =
        static_cast<double>(gamma[c]) / sqrt(static_cast<double>(running_var[c]) + eps);
    const double shift = static_cast<double>(beta[c]);
    const double centered = static_cast<double>(x[i]) - mean;
    y[i] = static_cast<float>(__dadd_rn(__dmul_rn(centered, scale), shift));
  }
}

// Backward on the same grid. Block (c, s): the sums of gy and gy * xhat over split s of
// channel c, into partial[2 (c S + s)] and partial[2 (c S + s) + 1].
__global__ void batch_norm_backward_partial_kernel(const float* x, const float* saved_mean,
                                                   const float* saved_invstd, const float* gy,
                                                   double* partial, int64_t n, int64_t channels,
                                                   int64_t plane, int64_t chunk) {
  __shared__ double shared[kThreads];
  const cuda::SplitRange r = cuda::split_range(plane, chunk);
  const double mean = static_cast<double>(saved_mean[r.c]);
  const double invstd = static_cast<double>(saved_invstd[r.c]);
  double s_gy = 0.0, s_gy_xhat = 0.0;
  for (int64_t b = 0; b < n; ++b) {
    const int64_t base = (b * channels + r.c) * plane;
    for (int64_t i = r.begin + threadIdx.x; i < r.end; i += kThreads) {
      const double d = static_cast<double>(gy[base + i]);
      s_gy += d;
      s_gy_xhat += d * (static_cast<double>(x[base + i]) - mean) * invstd;
    }
  }
  const double sum_gy = cuda::block_sum<kThreads>(s_gy, shared);
  const double sum_gy_xhat = cuda::block_sum<kThreads>(s_gy_xhat, shared);
  if (threadIdx.x == 0) {
    const int64_t k = 2 * (r.c * gridDim.y + blockIdx.y);
    partial[k] = sum_gy;
    partial[k + 1] = sum_gy_xhat;
  }
}

// Thread c: grad_beta, grad_gamma, and the two means grad_x needs, into means[2c], means[2c+1].
__global__ void batch_norm_backward_finish_kernel(const double* partial, float* grad_gamma,
                                                  float* grad_beta, double* means,
                                                  int64_t channels, int64_t splits, double count) {
  const int64_t c = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (c >= channels) return;
  double sum_gy = 0.0, sum_gy_xhat = 0.0;
  for (int64_t s = 0; s < splits; ++s) {
    sum_gy += partial[2 * (c * splits + s)];
    sum_gy_xhat += partial[2 * (c * splits + s) + 1];
  }
  grad_beta[c] = static_cast<float>(sum_gy);
  grad_gamma[c] = static_cast<float>(sum_gy_xhat);
  means[2 * c] = sum_gy / count;
  means[2 * c + 1] = sum_gy_xhat / count;
}

// Block (c, s): grad_x of split s of channel c.
__global__ void batch_norm_backward_apply_kernel(const float* x, const float* gamma,
                                                 const float* saved_mean,
                                                 const float* saved_invstd, const float* gy,
                                                 const double* means, float* gx, int64_t n,
                                                 int64_t channels, int64_t plane, int64_t chunk) {
  const cuda::SplitRange r = cuda::split_range(plane, chunk);
  const double mean = static_cast<double>(saved_mean[r.c]);
  const double invstd = static_cast<double>(saved_invstd[r.c]);
  const double k = static_cast<double>(gamma[r.c]) * invstd;
  const double mean_gy = means[2 * r.c], mean_gy_xhat = means[2 * r.c + 1];
  for (int64_t b = 0; b < n; ++b) {
    const int64_t base = (b * channels + r.c) * plane;
    for (int64_t i = r.begin + threadIdx.x; i < r.end; i += kThreads) {
      const double xhat = (static_cast<double>(x[base + i]) - mean) * invstd;
      gx[base + i] = static_cast<float>(
          k * (static_cast<double>(gy[base + i]) - mean_gy - xhat * mean_gy_xhat));
    }
  }
}

dim3 split_grid(int64_t channels, const cuda::ChannelSplit& cs) {
  return dim3(static_cast<unsigned>(channels), static_cast<unsigned>(cs.splits));
}

cuda::ChannelSplit split_for(const ChannelLayout& l) {
  return cuda::channel_split(l.c, l.plane, kThreads, cuda::device_properties().multiProcessorCount);
}

}  // namespace

void CudaBackend::batch_norm_train_impl(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                        Tensor& running_mean, Tensor& running_var, float momentum,
                                        float eps, BatchNormSaved& saved, Tensor& y) {
  const ChannelLayout l = channel_layout(x);
  STEADY_CHECK(l.c <= 0x7fffffff, "batch_norm_train: too many channels in ", x.str());
  if (l.c == 0) return;
  const cuda::ChannelSplit cs = split_for(l);
  const double count = static_cast<double>(l.count());
  Tensor partial = Tensor::empty({l.c * cs.splits}, Device::CUDA, DType::F64);
  Tensor mean = Tensor::empty({l.c}, Device::CUDA, DType::F64);
  Tensor affine = Tensor::empty({2 * l.c}, Device::CUDA, DType::F64);
  const unsigned finish_blocks = cuda::grid_for(l.c, kThreads);
  channel_partial_kernel<<<split_grid(l.c, cs), kThreads, 0, cuda::stream()>>>(
      x.data<float>(), nullptr, partial.data<double>(), l.n, l.c, l.plane, cs.chunk);
  CUDA_CHECK_LAUNCH("channel_partial_kernel (sum)");
  channel_mean_kernel<<<finish_blocks, kThreads, 0, cuda::stream()>>>(
      partial.data<double>(), mean.data<double>(), l.c, cs.splits, count);
  CUDA_CHECK_LAUNCH("channel_mean_kernel");
  channel_partial_kernel<<<split_grid(l.c, cs), kThreads, 0, cuda::stream()>>>(
      x.data<float>(), mean.data<double>(), partial.data<double>(), l.n, l.c, l.plane, cs.chunk);
  CUDA_CHECK_LAUNCH("channel_partial_kernel (squares)");
  batch_norm_stats_kernel<<<finish_blocks, kThreads, 0, cuda::stream()>>>(
      partial.data<double>(), mean.data<double>(), gamma.data<float>(), beta.data<float>(),
      running_mean.data<float>(), running_var.data<float>(), saved.mean.data<float>(),
      saved.invstd.data<float>(), affine.data<double>(), l.c, cs.splits, count,
      static_cast<double>(momentum), static_cast<double>(eps));
  CUDA_CHECK_LAUNCH("batch_norm_stats_kernel");
  batch_norm_apply_kernel<<<split_grid(l.c, cs), kThreads, 0, cuda::stream()>>>(
      x.data<float>(), mean.data<double>(), affine.data<double>(), y.data<float>(), l.n, l.c,
      l.plane, cs.chunk);
  CUDA_CHECK_LAUNCH("batch_norm_apply_kernel");
}

void CudaBackend::batch_norm_eval_impl(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                       const Tensor& running_mean, const Tensor& running_var,
                                       float eps, Tensor& y) {
  const ChannelLayout l = channel_layout(x);
  const int64_t total = x.numel();
  batch_norm_eval_kernel<<<cuda::grid_for(total, kEvalThreads), kEvalThreads, 0,
                           cuda::stream()>>>(
      x.data<float>(), gamma.data<float>(), beta.data<float>(), running_mean.data<float>(),
      running_var.data<float>(), y.data<float>(), total, l.c, l.plane, static_cast<double>(eps));
  CUDA_CHECK_LAUNCH("batch_norm_eval_kernel");
}

void CudaBackend::batch_norm_backward_impl(const Tensor& x, const Tensor& gamma,
                                           const BatchNormSaved& saved, const Tensor& gy,
                                           Tensor& gx, Tensor& grad_gamma, Tensor& grad_beta) {
  const ChannelLayout l = channel_layout(x);
  STEADY_CHECK(l.c <= 0x7fffffff, "batch_norm_backward: too many channels in ", x.str());
  if (l.c == 0) return;
  const cuda::ChannelSplit cs = split_for(l);
  Tensor partial = Tensor::empty({2 * l.c * cs.splits}, Device::CUDA, DType::F64);
  Tensor means = Tensor::empty({2 * l.c}, Device::CUDA, DType::F64);
  batch_norm_backward_partial_kernel<<<split_grid(l.c, cs), kThreads, 0, cuda::stream()>>>(
      x.data<float>(), saved.mean.data<float>(), saved.invstd.data<float>(), gy.data<float>(),
      partial.data<double>(), l.n, l.c, l.plane, cs.chunk);
  CUDA_CHECK_LAUNCH("batch_norm_backward_partial_kernel");
  batch_norm_backward_finish_kernel<<<cuda::grid_for(l.c, kThreads), kThreads, 0,
                                      cuda::stream()>>>(
      partial.data<double>(), grad_gamma.data<float>(), grad_beta.data<float>(),
      means.data<double>(), l.c, cs.splits, static_cast<double>(l.count()));
  CUDA_CHECK_LAUNCH("batch_norm_backward_finish_kernel");
  batch_norm_backward_apply_kernel<<<split_grid(l.c, cs), kThreads, 0, cuda::stream()>>>(
      x.data<float>(), gamma.data<float>(), saved.mean.data<float>(), saved.invstd.data<float>(),
      gy.data<float>(), means.data<double>(), gx.data<float>(), l.n, l.c, l.plane, cs.chunk);
  CUDA_CHECK_LAUNCH("batch_norm_backward_apply_kernel");
}

}  // namespace steady
