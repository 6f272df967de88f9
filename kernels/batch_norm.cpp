// Batch normalization on the CPU over x [N, C, ...] (NCHW in the models), per channel c over
// the M = N*H*W values of that channel, float32 and float64:
//  - train: batch mean and biased variance (accumulated in double, two passes), output
//    (x - mean) * invstd * gamma + beta with invstd = 1/sqrt(var + eps); running statistics
//    updated in place with PyTorch's momentum convention, running_mean = (1-m) rm + m mean and
//    running_var = (1-m) rv + m var*M/(M-1) (unbiased); saved.mean / saved.invstd filled for
//    the backward pass.
//  - eval: the same affine map with the running statistics.
//  - backward: with xhat = (x - mean) * invstd, grad_beta = sum(gy), grad_gamma = sum(gy xhat),
//    grad_x = gamma invstd (gy - grad_beta/M - xhat grad_gamma/M). grad_gamma and grad_beta are
//    overwritten (allocated when undefined on entry).
// Blocked tensors (engine/layout.h) have loops of their own.
// Work is split over channels, each channel reduced in a fixed order, so results do not depend
// on the thread count. This is the CPU twin of kernels/batch_norm.cu (written separately) and
// the reference it is checked against. Tested in tests/test_ops/kernels_reference.cpp (batch
// statistics and running-statistic values against a naive loop) and by the finite-difference
// gradient checks in tests/test_ops.
#include <cmath>
#include <vector>

#include "engine/cpu/cpu_backend.h"
#include "kernels/cpu_kernel_util.h"

namespace steady {

using cpu_kernel::dispatch;
using cpu_kernel::kParallelThreshold;
using cpu_kernel::blocked_channel_sums;
using cpu_kernel::blocked_for_each;
using cpu_kernel::lane_sum;


namespace {

// The blocked layout ([N, C/16, H, W, 16], engine/layout.h, float32 only): the same formulas,
// the sums in an order of their own (cpu_kernel::blocked_channel_sums).
// y = (x - mean[c]) * scale[c] + shift[c], in double, as the plain loops.
void blocked_normalize(const Tensor& x, const std::vector<double>& mean,
                       const std::vector<double>& scale, const std::vector<double>& shift,
                       Tensor& y) {
  const float* xp = x.data_any_layout<float>();
  float* yp = y.data_any_layout<float>();
  const double *mp = mean.data(), *sc = scale.data(), *sh = shift.data();
  blocked_for_each(x, [=](int64_t at, int64_t c) {
    yp[at] = static_cast<float>((static_cast<double>(xp[at]) - mp[c]) * sc[c] + sh[c]);
  });
}

void batch_norm_train_blocked(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                              Tensor& running_mean, Tensor& running_var, float momentum,
                              float eps, BatchNormSaved& saved, Tensor& y) {
  const int64_t channels = x.size(1);
  const double count = static_cast<double>(x.size(0) * x.size(2) * x.size(3));
  const float* xp = x.data_any_layout<float>();
  std::vector<double> mean =
      blocked_channel_sums(x, [xp](int64_t at, int64_t) { return static_cast<double>(xp[at]); });
  for (double& m : mean) m /= count;
  const double* mp = mean.data();
  const std::vector<double> sq = blocked_channel_sums(x, [xp, mp](int64_t at, int64_t c) {
    const double d = static_cast<double>(xp[at]) - mp[c];
    return d * d;
  });
  std::vector<double> scale(channels), shift(channels);
  const float* g = gamma.data<float>();
  const float* b = beta.data<float>();
  float* rm = running_mean.data<float>();
  float* rv = running_var.data<float>();
  const double m = momentum;
  for (int64_t c = 0; c < channels; ++c) {
    const double var = sq[c] / count;
    const double invstd = 1.0 / std::sqrt(var + static_cast<double>(eps));
    scale[c] = invstd * static_cast<double>(g[c]);
    shift[c] = static_cast<double>(b[c]);
    const double unbiased = var * count / (count - 1.0);
    rm[c] = static_cast<float>((1.0 - m) * static_cast<double>(rm[c]) + m * mean[c]);
    rv[c] = static_cast<float>((1.0 - m) * static_cast<double>(rv[c]) + m * unbiased);
    saved.mean.data<float>()[c] = static_cast<float>(mean[c]);
    saved.invstd.data<float>()[c] = static_cast<float>(invstd);
  }
  blocked_normalize(x, mean, scale, shift, y);
}

void batch_norm_eval_blocked(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                             const Tensor& running_mean, const Tensor& running_var, float eps,
                             Tensor& y) {
  const int64_t channels = x.size(1);
  std::vector<double> mean(channels), scale(channels), shift(channels);
  for (int64_t c = 0; c < channels; ++c) {
    mean[c] = static_cast<double>(running_mean.data<float>()[c]);
    scale[c] = static_cast<double>(gamma.data<float>()[c]) /
               std::sqrt(static_cast<double>(running_var.data<float>()[c]) +
                         static_cast<double>(eps));
    shift[c] = static_cast<double>(beta.data<float>()[c]);
  }
  blocked_normalize(x, mean, scale, shift, y);
}

void batch_norm_backward_blocked(const Tensor& x, const Tensor& gamma,
                                 const BatchNormSaved& saved, const Tensor& gy, Tensor& gx,
                                 Tensor& grad_gamma, Tensor& grad_beta) {
  const int64_t channels = x.size(1);
  const double count = static_cast<double>(x.size(0) * x.size(2) * x.size(3));
  const float* xp = x.data_any_layout<float>();
  const float* gyp = gy.data_any_layout<float>();
  float* gxp = gx.data_any_layout<float>();
  std::vector<double> mean(channels), invstd(channels), k(channels);
  for (int64_t c = 0; c < channels; ++c) {
    mean[c] = static_cast<double>(saved.mean.data<float>()[c]);
    invstd[c] = static_cast<double>(saved.invstd.data<float>()[c]);
    k[c] = static_cast<double>(gamma.data<float>()[c]) * invstd[c];
  }
  const double *mp = mean.data(), *ip = invstd.data(), *kp = k.data();
  std::vector<double> mean_gy =
      blocked_channel_sums(gy, [gyp](int64_t at, int64_t) { return static_cast<double>(gyp[at]); });
  std::vector<double> mean_gy_xhat = blocked_channel_sums(gy, [=](int64_t at, int64_t c) {
    return static_cast<double>(gyp[at]) * (static_cast<double>(xp[at]) - mp[c]) * ip[c];
  });
  for (int64_t c = 0; c < channels; ++c) {
    grad_beta.data<float>()[c] = static_cast<float>(mean_gy[c]);
    grad_gamma.data<float>()[c] = static_cast<float>(mean_gy_xhat[c]);
    mean_gy[c] /= count;
    mean_gy_xhat[c] /= count;
  }
  const double *mg = mean_gy.data(), *mgx = mean_gy_xhat.data();
  blocked_for_each(x, [=](int64_t at, int64_t c) {
    const double xhat = (static_cast<double>(xp[at]) - mp[c]) * ip[c];
    gxp[at] = static_cast<float>(kp[c] * (static_cast<double>(gyp[at]) - mg[c] - xhat * mgx[c]));
  });
}

}  // namespace

void CpuBackend::batch_norm_train_impl(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                       Tensor& running_mean, Tensor& running_var, float momentum,
                                       float eps, BatchNormSaved& saved, Tensor& y) {
  if (x.blocked())
    return batch_norm_train_blocked(x, gamma, beta, running_mean, running_var, momentum, eps,
                                    saved, y);
  const ChannelLayout l = channel_layout(x);
  const int64_t count = l.count();
  dispatch(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* xp = x.data<T>();
    const T* g = gamma.data<T>();
    const T* b = beta.data<T>();
    T* rm = running_mean.data<T>();
    T* rv = running_var.data<T>();
    T* sm = saved.mean.data<T>();
    T* si = saved.invstd.data<T>();
    T* yp = y.data<T>();
    const double m = momentum;
#pragma omp parallel for if (x.numel() > kParallelThreshold) schedule(static)
    for (int64_t c = 0; c < l.c; ++c) {
      double s = 0.0;
      for (int64_t n = 0; n < l.n; ++n) {
        const T* p = xp + (n * l.c + c) * l.plane;
        s += lane_sum(l.plane, [p](int64_t i) { return static_cast<double>(p[i]); });
      }
      const double mean = s / static_cast<double>(count);
      double sq = 0.0;
      for (int64_t n = 0; n < l.n; ++n) {
        const T* p = xp + (n * l.c + c) * l.plane;
        sq += lane_sum(l.plane, [p, mean](int64_t i) {
          const double d = static_cast<double>(p[i]) - mean;
          return d * d;
        });
      }
      const double var = sq / static_cast<double>(count);
      const double invstd = 1.0 / std::sqrt(var + static_cast<double>(eps));
      const double scale = invstd * static_cast<double>(g[c]);
      const double shift = static_cast<double>(b[c]);
      for (int64_t n = 0; n < l.n; ++n) {
        const T* p = xp + (n * l.c + c) * l.plane;
        T* o = yp + (n * l.c + c) * l.plane;
        for (int64_t i = 0; i < l.plane; ++i)
          o[i] = static_cast<T>((static_cast<double>(p[i]) - mean) * scale + shift);
      }
      const double unbiased = var * static_cast<double>(count) / static_cast<double>(count - 1);
      rm[c] = static_cast<T>((1.0 - m) * static_cast<double>(rm[c]) + m * mean);
      rv[c] = static_cast<T>((1.0 - m) * static_cast<double>(rv[c]) + m * unbiased);
      sm[c] = static_cast<T>(mean);
      si[c] = static_cast<T>(invstd);
    }
  });
}

void CpuBackend::batch_norm_eval_impl(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                      const Tensor& running_mean, const Tensor& running_var,
                                      float eps, Tensor& y) {
  if (x.blocked())
    return batch_norm_eval_blocked(x, gamma, beta, running_mean, running_var, eps, y);
  const ChannelLayout l = channel_layout(x);
  dispatch(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* xp = x.data<T>();
    const T* g = gamma.data<T>();
    const T* b = beta.data<T>();
    const T* rm = running_mean.data<T>();
    const T* rv = running_var.data<T>();
    T* yp = y.data<T>();
    const int64_t planes = l.n * l.c;
#pragma omp parallel for if (x.numel() > kParallelThreshold) schedule(static)
    for (int64_t p = 0; p < planes; ++p) {
      const int64_t c = p % l.c;
      const double mean = static_cast<double>(rm[c]);
      const double scale = static_cast<double>(g[c]) /
                           std::sqrt(static_cast<double>(rv[c]) + static_cast<double>(eps));
      const double shift = static_cast<double>(b[c]);
      const T* in = xp + p * l.plane;
      T* o = yp + p * l.plane;
      for (int64_t i = 0; i < l.plane; ++i)
        o[i] = static_cast<T>((static_cast<double>(in[i]) - mean) * scale + shift);
    }
  });
}

void CpuBackend::batch_norm_backward_impl(const Tensor& x, const Tensor& gamma,
                                          const BatchNormSaved& saved, const Tensor& gy,
                                          Tensor& gx, Tensor& grad_gamma, Tensor& grad_beta) {
  if (x.blocked())
    return batch_norm_backward_blocked(x, gamma, saved, gy, gx, grad_gamma, grad_beta);
  const ChannelLayout l = channel_layout(x);
  const int64_t count = l.count();
  dispatch(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* xp = x.data<T>();
    const T* gyp = gy.data<T>();
    const T* g = gamma.data<T>();
    const T* sm = saved.mean.data<T>();
    const T* si = saved.invstd.data<T>();
    T* gg = grad_gamma.data<T>();
    T* gb = grad_beta.data<T>();
    T* gxp = gx.data<T>();
#pragma omp parallel for if (x.numel() > kParallelThreshold) schedule(static)
    for (int64_t c = 0; c < l.c; ++c) {
      const double mean = static_cast<double>(sm[c]);
      const double invstd = static_cast<double>(si[c]);
      double sum_gy = 0.0, sum_gy_xhat = 0.0;
      for (int64_t n = 0; n < l.n; ++n) {
        const T* gp = gyp + (n * l.c + c) * l.plane;
        const T* p = xp + (n * l.c + c) * l.plane;
        sum_gy += lane_sum(l.plane, [gp](int64_t i) { return static_cast<double>(gp[i]); });
        sum_gy_xhat += lane_sum(l.plane, [gp, p, mean, invstd](int64_t i) {
          return static_cast<double>(gp[i]) * (static_cast<double>(p[i]) - mean) * invstd;
        });
      }
      gb[c] = static_cast<T>(sum_gy);
      gg[c] = static_cast<T>(sum_gy_xhat);
      const double k = static_cast<double>(g[c]) * invstd;
      const double mean_gy = sum_gy / static_cast<double>(count);
      const double mean_gy_xhat = sum_gy_xhat / static_cast<double>(count);
      for (int64_t n = 0; n < l.n; ++n) {
        const int64_t base = (n * l.c + c) * l.plane;
        for (int64_t i = 0; i < l.plane; ++i) {
          const double xhat = (static_cast<double>(xp[base + i]) - mean) * invstd;
          gxp[base + i] = static_cast<T>(
              k * (static_cast<double>(gyp[base + i]) - mean_gy - xhat * mean_gy_xhat));
        }
      }
    }
  });
}

}  // namespace steady
