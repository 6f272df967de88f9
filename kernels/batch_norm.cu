// Batch normalization on CUDA over x [N, C, ...] float32, per channel c over the M = N*H*W
// values of that channel:
//  - train: batch mean and biased variance (two passes, in double), y = (x - mean) * invstd *
//    gamma + beta with invstd = 1/sqrt(var + eps); running statistics updated in place with
//    PyTorch's momentum convention and the unbiased variance var*M/(M-1); saved.mean and
//    saved.invstd filled for the backward pass.
//  - eval: the same affine map with the running statistics (one thread per element).
//  - backward: grad_beta = sum(gy), grad_gamma = sum(gy xhat), grad_x = gamma invstd (gy -
//    grad_beta/M - xhat grad_gamma/M).
// Train and backward run one block per channel; the block reduces its channel with a fixed tree
// in double (engine/cuda/reduce.cuh), so results are deterministic, and then writes the
// channel's outputs itself, so no second launch or scratch buffer is needed.
// CPU twin: kernels/batch_norm.cpp (same formulas in double). Tested by tests/gpu_ops (against
// the CPU on random inputs and several shapes, running statistics and the [C] outputs checked
// through views with guard values around them, outputs poisoned).
#include <cmath>

#include "engine/cuda/checks.h"
#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/reduce.cuh"
#include "engine/cuda/runtime.h"

namespace steady {

namespace {

constexpr int kThreads = 512;  // per channel block
constexpr int kEvalThreads = 256;

struct ChannelLayout {
  int64_t n, c, plane;  // plane: elements of one channel of one sample (H*W)
  int64_t count() const { return n * plane; }
};

ChannelLayout check_input(const char* op, const Tensor& x) {
  cuda::check_cuda_f32(op, x, "x");
  STEADY_CHECK(x.dim() >= 2, op, ": x must be [N, C, ...], got ", x.str());
  ChannelLayout l{x.size(0), x.size(1), 1};
  for (int d = 2; d < x.dim(); ++d) l.plane *= x.size(d);
  return l;
}

void check_per_channel(const char* op, const Tensor& t, const char* what, const Tensor& x) {
  cuda::check_cuda_f32(op, t, what);
  STEADY_CHECK(t.dim() == 1 && t.size(0) == x.size(1), op, ": ", what, " ", t.str(),
               " must be [", x.size(1), "], for x ", x.str());
}

// Block c: statistics of channel c, its running-statistic update, and its outputs.
__global__ void batch_norm_train_kernel(const float* x, const float* gamma, const float* beta,
                                        float* running_mean, float* running_var,
                                        float* saved_mean, float* saved_invstd, float* y,
                                        int64_t n, int64_t channels, int64_t plane,
                                        double momentum, double eps) {
  __shared__ double shared[kThreads];
  const int64_t c = blockIdx.x;
  const double count = static_cast<double>(n * plane);
  double s = 0.0;
  for (int64_t b = 0; b < n; ++b) {
    const float* p = x + (b * channels + c) * plane;
    for (int64_t i = threadIdx.x; i < plane; i += kThreads) s += static_cast<double>(p[i]);
  }
  const double mean = cuda::block_sum<kThreads>(s, shared) / count;
  double sq = 0.0;
  for (int64_t b = 0; b < n; ++b) {
    const float* p = x + (b * channels + c) * plane;
    for (int64_t i = threadIdx.x; i < plane; i += kThreads) {
      const double d = static_cast<double>(p[i]) - mean;
      sq += d * d;
    }
  }
  const double var = cuda::block_sum<kThreads>(sq, shared) / count;
  const double invstd = 1.0 / sqrt(var + eps);
  const double scale = invstd * static_cast<double>(gamma[c]);
  const double shift = static_cast<double>(beta[c]);
  for (int64_t b = 0; b < n; ++b) {
    const float* p = x + (b * channels + c) * plane;
    float* o = y + (b * channels + c) * plane;
    for (int64_t i = threadIdx.x; i < plane; i += kThreads) {
      const double centered = static_cast<double>(p[i]) - mean;
      o[i] = static_cast<float>(__dadd_rn(__dmul_rn(centered, scale), shift));
    }
  }
  if (threadIdx.x == 0) {
    const double unbiased = var * count / (count - 1.0);
    running_mean[c] = static_cast<float>((1.0 - momentum) * static_cast<double>(running_mean[c]) +
                                         momentum * mean);
    running_var[c] = static_cast<float>((1.0 - momentum) * static_cast<double>(running_var[c]) +
                                        momentum * unbiased);
    saved_mean[c] = static_cast<float>(mean);
    saved_invstd[c] = static_cast<float>(invstd);
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

// Block c: the two sums of channel c, its grad_gamma/grad_beta, and its grad_x.
__global__ void batch_norm_backward_kernel(const float* x, const float* gamma,
                                           const float* saved_mean, const float* saved_invstd,
                                           const float* gy, float* grad_gamma, float* grad_beta,
                                           float* gx, int64_t n, int64_t channels,
                                           int64_t plane) {
  __shared__ double shared[kThreads];
  const int64_t c = blockIdx.x;
  const double count = static_cast<double>(n * plane);
  const double mean = static_cast<double>(saved_mean[c]);
  const double invstd = static_cast<double>(saved_invstd[c]);
  double s_gy = 0.0, s_gy_xhat = 0.0;
  for (int64_t b = 0; b < n; ++b) {
    const int64_t base = (b * channels + c) * plane;
    for (int64_t i = threadIdx.x; i < plane; i += kThreads) {
      const double d = static_cast<double>(gy[base + i]);
      s_gy += d;
      s_gy_xhat += d * (static_cast<double>(x[base + i]) - mean) * invstd;
    }
  }
  const double sum_gy = cuda::block_sum<kThreads>(s_gy, shared);
  const double sum_gy_xhat = cuda::block_sum<kThreads>(s_gy_xhat, shared);
  if (threadIdx.x == 0) {
    grad_beta[c] = static_cast<float>(sum_gy);
    grad_gamma[c] = static_cast<float>(sum_gy_xhat);
  }
  const double k = static_cast<double>(gamma[c]) * invstd;
  const double mean_gy = sum_gy / count;
  const double mean_gy_xhat = sum_gy_xhat / count;
  for (int64_t b = 0; b < n; ++b) {
    const int64_t base = (b * channels + c) * plane;
    for (int64_t i = threadIdx.x; i < plane; i += kThreads) {
      const double xhat = (static_cast<double>(x[base + i]) - mean) * invstd;
      gx[base + i] = static_cast<float>(
          k * (static_cast<double>(gy[base + i]) - mean_gy - xhat * mean_gy_xhat));
    }
  }
}

}  // namespace

Tensor CudaBackend::batch_norm_train(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                     Tensor& running_mean, Tensor& running_var, float momentum,
                                     float eps, BatchNormSaved& saved) {
  const char* op = "batch_norm_train";
  const ChannelLayout l = check_input(op, x);
  check_per_channel(op, gamma, "gamma", x);
  check_per_channel(op, beta, "beta", x);
  check_per_channel(op, running_mean, "running_mean", x);
  check_per_channel(op, running_var, "running_var", x);
  STEADY_CHECK(l.count() > 1, op, ": needs more than one value per channel in training, got x ",
               x.str());
  STEADY_CHECK(l.c <= 0x7fffffff, op, ": too many channels in ", x.str());
  Tensor y = Tensor::empty(x.shape(), Device::CUDA);
  saved.mean = Tensor::empty({l.c}, Device::CUDA);
  saved.invstd = Tensor::empty({l.c}, Device::CUDA);
  if (l.c == 0) return y;
  batch_norm_train_kernel<<<static_cast<unsigned int>(l.c), kThreads, 0, cuda::stream()>>>(
      x.data<float>(), gamma.data<float>(), beta.data<float>(), running_mean.data<float>(),
      running_var.data<float>(), saved.mean.data<float>(), saved.invstd.data<float>(),
      y.data<float>(), l.n, l.c, l.plane, static_cast<double>(momentum),
      static_cast<double>(eps));
  CUDA_CHECK_LAUNCH("batch_norm_train_kernel");
  return y;
}

Tensor CudaBackend::batch_norm_eval(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                    const Tensor& running_mean, const Tensor& running_var,
                                    float eps) {
  const char* op = "batch_norm_eval";
  const ChannelLayout l = check_input(op, x);
  check_per_channel(op, gamma, "gamma", x);
  check_per_channel(op, beta, "beta", x);
  check_per_channel(op, running_mean, "running_mean", x);
  check_per_channel(op, running_var, "running_var", x);
  Tensor y = Tensor::empty(x.shape(), Device::CUDA);
  const int64_t total = x.numel();
  if (total == 0) return y;
  batch_norm_eval_kernel<<<cuda::grid_for(total, kEvalThreads), kEvalThreads, 0,
                           cuda::stream()>>>(
      x.data<float>(), gamma.data<float>(), beta.data<float>(), running_mean.data<float>(),
      running_var.data<float>(), y.data<float>(), total, l.c, l.plane, static_cast<double>(eps));
  CUDA_CHECK_LAUNCH("batch_norm_eval_kernel");
  return y;
}

Tensor CudaBackend::batch_norm_backward(const Tensor& x, const Tensor& gamma,
                                        const BatchNormSaved& saved, const Tensor& gy,
                                        Tensor& grad_gamma, Tensor& grad_beta) {
  const char* op = "batch_norm_backward";
  const ChannelLayout l = check_input(op, x);
  cuda::check_cuda_f32(op, gy, "gy");
  check_same_shape(op, x, gy);
  check_per_channel(op, gamma, "gamma", x);
  check_per_channel(op, saved.mean, "saved.mean", x);
  check_per_channel(op, saved.invstd, "saved.invstd", x);
  if (!grad_gamma.defined()) grad_gamma = Tensor::empty({l.c}, Device::CUDA);
  if (!grad_beta.defined()) grad_beta = Tensor::empty({l.c}, Device::CUDA);
  check_per_channel(op, grad_gamma, "grad_gamma", x);
  check_per_channel(op, grad_beta, "grad_beta", x);
  STEADY_CHECK(l.c <= 0x7fffffff, op, ": too many channels in ", x.str());
  Tensor gx = Tensor::empty(x.shape(), Device::CUDA);
  if (l.c == 0) return gx;
  batch_norm_backward_kernel<<<static_cast<unsigned int>(l.c), kThreads, 0, cuda::stream()>>>(
      x.data<float>(), gamma.data<float>(), saved.mean.data<float>(), saved.invstd.data<float>(),
      gy.data<float>(), grad_gamma.data<float>(), grad_beta.data<float>(), gx.data<float>(), l.n,
      l.c, l.plane);
  CUDA_CHECK_LAUNCH("batch_norm_backward_kernel");
  return gx;
}

}  // namespace steady
