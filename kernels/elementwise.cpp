// Elementwise ops and reductions on the CPU: fill, the unary activations (relu, leaky relu,
// sigmoid, tanh, exp, log) and their gradients, add/sub/mul/maximum (and maximum's gradient),
// the maximum over channels, the product with a per-pixel map broadcast over channels,
// x*scale+shift, dst += alpha*src, sum and the broadcast of a scalar. float32 and float64, OpenMP over elements for large inputs.
// The elementwise ones read any layout (engine/layout.h): their operands share one, checked by
// the entry points.
// This is the CPU twin of kernels/elementwise.cu (the per-element formulas shared through
// kernels/elementwise_math.h; arguments checked in engine/backend.cpp) and the reference it is
// checked against. sum is deterministic: it adds fixed-size chunks in double, each chunk in
// index order, then the chunk sums in chunk order, so the result does not depend on the thread
// count. Tested in tests/test_ops/kernels_reference.cpp (known values, naive loops, bitwise
// repeatability of sum) and by the finite-difference gradient checks in tests/test_ops.
#include <algorithm>
#include <cmath>
#include <string>
#include <type_traits>
#include <vector>

#include "engine/cpu/cpu_backend.h"
#include "kernels/cpu_kernel_util.h"
#include "kernels/elementwise_math.h"

namespace steady {

using cpu_kernel::dispatch;
using cpu_kernel::kParallelThreshold;

namespace {

// Calls f(std::integral_constant<UnaryOp, op>{}): the op becomes a template argument of the
// caller's loop, so each loop is branch-free and vectorizes.
template <class F>
void with_unary_op(UnaryOp op, F&& f) {
#define STEADY_OP_CASE(Op, name) \
  case UnaryOp::Op: return f(std::integral_constant<UnaryOp, UnaryOp::Op>{});
  switch (op) {
    STEADY_OP_CASE(LeakyRelu, leaky_relu)
    STEADY_PLAIN_UNARY_OPS(STEADY_OP_CASE)
  }
#undef STEADY_OP_CASE
}

// gx = gy * d(op)/dx over one contiguous range. Restrict-qualified locals let the compiler keep
// the pointers in registers and vectorize (through the lambda captures it reloaded them per
// element).
template <UnaryOp kOp, class T>
void unary_backward_range(const T* __restrict operand, const T* __restrict gy, T* __restrict gx,
                          int64_t n, T slope, bool use_x) {
  for (int64_t i = 0; i < n; ++i) gx[i] = gy[i] * unary::derivative(kOp, operand[i], slope, use_x);
}

// Elements per task of the chunked elementwise loops.
constexpr int64_t kElementChunk = 1 << 14;

// Chunk size of the deterministic sum; fixed so that the grouping of additions never changes.
constexpr int64_t kSumChunk = 4096;

}  // namespace

void CpuBackend::fill_impl(Tensor& t, double value) {
  const int64_t n = t.numel();
  dispatch(t.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* p = t.data_any_layout<T>();
    const T v = static_cast<T>(value);
#pragma omp parallel for if (n > kParallelThreshold) schedule(static)
    for (int64_t i = 0; i < n; ++i) p[i] = v;
  });
}

void CpuBackend::unary_impl(UnaryOp op, const Tensor& x, float slope, Tensor& y) {
  const int64_t n = x.numel();
  dispatch(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* xp = x.data_any_layout<T>();
    T* yp = y.data_any_layout<T>();
    const T s = static_cast<T>(slope);
    auto run = [&](auto op_tag) {
      constexpr UnaryOp kOp = decltype(op_tag)::value;
#pragma omp parallel for if (n > kParallelThreshold / 8) schedule(static)
      for (int64_t i = 0; i < n; ++i) yp[i] = unary::apply(kOp, xp[i], s);
    };
    with_unary_op(op, run);
  });
}

void CpuBackend::unary_backward_impl(UnaryOp op, const Tensor& operand, bool use_x,
                                     const Tensor& gy, float slope, Tensor& gx) {
  const int64_t n = gy.numel();
  dispatch(gy.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* op_p = operand.data_any_layout<T>();
    const T* g = gy.data_any_layout<T>();
    T* out = gx.data_any_layout<T>();
    const T s = static_cast<T>(slope);
    auto run = [&](auto op_tag) {
      constexpr UnaryOp kOp = decltype(op_tag)::value;
      const int64_t chunks = (n + kElementChunk - 1) / kElementChunk;
#pragma omp parallel for if (n > kParallelThreshold / 8) schedule(static)
      for (int64_t c = 0; c < chunks; ++c) {
        const int64_t begin = c * kElementChunk, end = std::min(n, begin + kElementChunk);
        unary_backward_range<kOp>(op_p + begin, g + begin, out + begin, end - begin, s, use_x);
      }
    };
    with_unary_op(op, run);
  });
}

void CpuBackend::binary_impl(BinaryOp op, const Tensor& a, const Tensor& b, Tensor& out) {
  const int64_t n = a.numel();
  dispatch(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* ap = a.data_any_layout<T>();
    const T* bp = b.data_any_layout<T>();
    T* o = out.data_any_layout<T>();
    auto run = [&](auto op_tag) {
      constexpr BinaryOp kOp = decltype(op_tag)::value;
#pragma omp parallel for if (n > kParallelThreshold) schedule(static)
      for (int64_t i = 0; i < n; ++i) o[i] = binary::apply(kOp, ap[i], bp[i]);
    };
#define STEADY_OP_CASE(Op, name) \
  case BinaryOp::Op: return run(std::integral_constant<BinaryOp, BinaryOp::Op>{});
    switch (op) { STEADY_BINARY_OPS(STEADY_OP_CASE) }
#undef STEADY_OP_CASE
  });
}

void CpuBackend::maximum_backward_impl(const Tensor& a, const Tensor& b, const Tensor& gy,
                                       Tensor& ga, Tensor& gb) {
  const int64_t n = a.numel();
  dispatch(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* ap = a.data_any_layout<T>();
    const T* bp = b.data_any_layout<T>();
    const T* g = gy.data_any_layout<T>();
    T* gap = ga.data_any_layout<T>();
    T* gbp = gb.data_any_layout<T>();
#pragma omp parallel for if (n > kParallelThreshold) schedule(static)
    for (int64_t i = 0; i < n; ++i) {
      gap[i] = g[i] * binary::maximum_grad_share(ap[i], bp[i]);
      gbp[i] = g[i] * binary::maximum_grad_share(bp[i], ap[i]);
    }
  });
}

void CpuBackend::max_channels_impl(const Tensor& x, Tensor& out) {
  const ChannelLayout l = channel_layout(x);
  const int64_t n = l.n, c = l.c, plane = l.plane;
  dispatch(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* xp = x.data<T>();
    T* o = out.data<T>();
#pragma omp parallel for if (x.numel() > kParallelThreshold) schedule(static)
    for (int64_t s = 0; s < n; ++s) {
      const T* in = xp + s * c * plane;
      T* dst = o + s * plane;
      std::copy(in, in + plane, dst);
      for (int64_t ch = 1; ch < c; ++ch)
        for (int64_t i = 0; i < plane; ++i)
          dst[i] = binary::apply(BinaryOp::Max, dst[i], in[ch * plane + i]);
    }
  });
}

void CpuBackend::mul_channels_impl(const Tensor& x, const Tensor& m, Tensor& out) {
  const ChannelLayout l = channel_layout(x);
  const int64_t n = l.n, c = l.c, plane = l.plane;
  dispatch(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* xp = x.data<T>();
    const T* mp = m.data<T>();
    T* o = out.data<T>();
#pragma omp parallel for collapse(2) if (x.numel() > kParallelThreshold) schedule(static)
    for (int64_t s = 0; s < n; ++s)
      for (int64_t ch = 0; ch < c; ++ch) {
        const int64_t base = (s * c + ch) * plane;
        for (int64_t i = 0; i < plane; ++i) o[base + i] = xp[base + i] * mp[s * plane + i];
      }
  });
}

void CpuBackend::scale_shift_impl(const Tensor& x, double scale, double shift, Tensor& out) {
  const int64_t n = x.numel();
  dispatch(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* xp = x.data_any_layout<T>();
    T* o = out.data_any_layout<T>();
    const T s = static_cast<T>(scale), t = static_cast<T>(shift);
#pragma omp parallel for if (n > kParallelThreshold) schedule(static)
    for (int64_t i = 0; i < n; ++i) o[i] = xp[i] * s + t;
  });
}

void CpuBackend::accumulate_impl(Tensor& dst, const Tensor& src, double alpha) {
  const int64_t n = dst.numel();
  dispatch(dst.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* d = dst.data_any_layout<T>();  // data() honours the view's offset into a flat buffer
    const T* s = src.data_any_layout<T>();
    const T a = static_cast<T>(alpha);
    if (alpha == 1.0) {
#pragma omp parallel for if (n > kParallelThreshold) schedule(static)
      for (int64_t i = 0; i < n; ++i) d[i] += s[i];
    } else {
#pragma omp parallel for if (n > kParallelThreshold) schedule(static)
      for (int64_t i = 0; i < n; ++i) d[i] += a * s[i];
    }
  });
}

void CpuBackend::sum_impl(const Tensor& x, Tensor& out) {
  const int64_t n = x.numel();
  const int64_t chunks = (n + kSumChunk - 1) / kSumChunk;
  dispatch(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* xp = x.data<T>();
    std::vector<double> partial(static_cast<size_t>(chunks), 0.0);
#pragma omp parallel for if (n > kParallelThreshold) schedule(static)
    for (int64_t c = 0; c < chunks; ++c) {
      const int64_t begin = c * kSumChunk;
      const int64_t end = begin + kSumChunk < n ? begin + kSumChunk : n;
      // Four interleaved accumulators break the add latency chain; the grouping is fixed.
      double acc[4] = {0.0, 0.0, 0.0, 0.0};
      int64_t i = begin;
      for (; i + 4 <= end; i += 4)
        for (int k = 0; k < 4; ++k) acc[k] += static_cast<double>(xp[i + k]);
      for (; i < end; ++i) acc[0] += static_cast<double>(xp[i]);
      partial[c] = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    }
    double total = 0.0;
    for (int64_t c = 0; c < chunks; ++c) total += partial[c];
    out.data<T>()[0] = static_cast<T>(total);
  });
}

void CpuBackend::broadcast_scalar_impl(const Tensor& s, double scale, Tensor& out) {
  const int64_t n = out.numel();
  dispatch(s.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T v = static_cast<T>(static_cast<double>(s.data<T>()[0]) * scale);
    T* o = out.data<T>();
#pragma omp parallel for if (n > kParallelThreshold) schedule(static)
    for (int64_t i = 0; i < n; ++i) o[i] = v;
  });
}

}  // namespace steady
