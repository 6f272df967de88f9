// Elementwise ops and reductions on the CPU: fill, the unary activations (relu, leaky relu,
// sigmoid, tanh, exp, log) and their gradients, add/sub/mul, x*scale+shift, dst += alpha*src,
// sum and the broadcast of a scalar. float32 and float64, OpenMP over elements for large inputs.
// This is the CPU twin of kernels/elementwise.cu (written separately) and the reference it is
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

namespace steady {

using cpu_kernel::check_cpu;
using cpu_kernel::dispatch;
using cpu_kernel::kParallelThreshold;

namespace {

const char* unary_name(UnaryOp op) {
  switch (op) {
    case UnaryOp::Relu: return "relu";
    case UnaryOp::LeakyRelu: return "leaky_relu";
    case UnaryOp::Sigmoid: return "sigmoid";
    case UnaryOp::Tanh: return "tanh";
    case UnaryOp::Exp: return "exp";
    case UnaryOp::Log: return "log";
  }
  return "unary";
}

template <class T>
T sigmoid_of(T x) {
  // Two branches so that exp never overflows for large |x|.
  if (x >= T(0)) return T(1) / (T(1) + std::exp(-x));
  T e = std::exp(x);
  return e / (T(1) + e);
}

template <class T>
T apply_unary(UnaryOp op, T x, T slope) {
  switch (op) {
    case UnaryOp::Relu: return x > T(0) ? x : T(0);
    case UnaryOp::LeakyRelu: return x > T(0) ? x : slope * x;
    case UnaryOp::Sigmoid: return sigmoid_of(x);
    case UnaryOp::Tanh: return std::tanh(x);
    case UnaryOp::Exp: return std::exp(x);
    case UnaryOp::Log: return std::log(x);
  }
  return x;
}

// Calls f(std::integral_constant<UnaryOp, op>{}): the op becomes a template argument of the
// caller's loop, so each loop is branch-free and vectorizes.
template <class F>
void with_unary_op(UnaryOp op, F&& f) {
  switch (op) {
    case UnaryOp::Relu: return f(std::integral_constant<UnaryOp, UnaryOp::Relu>{});
    case UnaryOp::LeakyRelu: return f(std::integral_constant<UnaryOp, UnaryOp::LeakyRelu>{});
    case UnaryOp::Sigmoid: return f(std::integral_constant<UnaryOp, UnaryOp::Sigmoid>{});
    case UnaryOp::Tanh: return f(std::integral_constant<UnaryOp, UnaryOp::Tanh>{});
    case UnaryOp::Exp: return f(std::integral_constant<UnaryOp, UnaryOp::Exp>{});
    case UnaryOp::Log: return f(std::integral_constant<UnaryOp, UnaryOp::Log>{});
  }
}

// d(op)/dx from the operand v (x or y, see unary_backward), for one element.
template <UnaryOp kOp, class T>
T unary_derivative(T v, T slope, bool use_x) {
  switch (kOp) {
    case UnaryOp::Relu: return v > T(0) ? T(1) : T(0);  // y > 0 exactly when x > 0; 0 at 0
    case UnaryOp::LeakyRelu: return v > T(0) ? T(1) : slope;  // from y too when slope >= 0
    case UnaryOp::Sigmoid: {
      const T yi = use_x ? sigmoid_of(v) : v;
      return yi * (T(1) - yi);
    }
    case UnaryOp::Tanh: {
      const T yi = use_x ? std::tanh(v) : v;
      return T(1) - yi * yi;
    }
    case UnaryOp::Exp: return use_x ? std::exp(v) : v;
    case UnaryOp::Log: return T(1) / (use_x ? v : std::exp(v));
  }
  return T(0);
}

// gx = gy * d(op)/dx over one contiguous range. Restrict-qualified locals let the compiler keep
// the pointers in registers and vectorize (through the lambda captures it reloaded them per
// element).
template <UnaryOp kOp, class T>
void unary_backward_range(const T* __restrict operand, const T* __restrict gy, T* __restrict gx,
                          int64_t n, T slope, bool use_x) {
  for (int64_t i = 0; i < n; ++i) gx[i] = gy[i] * unary_derivative<kOp>(operand[i], slope, use_x);
}

// Elements per task of the chunked elementwise loops.
constexpr int64_t kElementChunk = 1 << 14;

// Chunk size of the deterministic sum; fixed so that the grouping of additions never changes.
constexpr int64_t kSumChunk = 4096;

}  // namespace

void CpuBackend::fill(Tensor& t, double value) {
  check_cpu("fill", t, "tensor");
  const int64_t n = t.numel();
  dispatch(t.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* p = t.data<T>();
    const T v = static_cast<T>(value);
#pragma omp parallel for if (n > kParallelThreshold) schedule(static)
    for (int64_t i = 0; i < n; ++i) p[i] = v;
  });
}

Tensor CpuBackend::unary(UnaryOp op, const Tensor& x, float slope) {
  check_cpu(unary_name(op), x, "x");
  Tensor y = Tensor::empty(x.shape(), Device::CPU, x.dtype());
  const int64_t n = x.numel();
  dispatch(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* xp = x.data<T>();
    T* yp = y.data<T>();
    const T s = static_cast<T>(slope);
    auto run = [&](auto op_tag) {
#pragma omp parallel for if (n > kParallelThreshold / 8) schedule(static)
      for (int64_t i = 0; i < n; ++i) yp[i] = apply_unary(decltype(op_tag)::value, xp[i], s);
    };
    with_unary_op(op, run);
  });
  return y;
}

// Each gradient is written with the operand it is most accurate from: relu, leaky relu and log
// from x; sigmoid, tanh and exp from y. When that one is undefined the other is used (y is
// recomputed from x, or x recovered from y), so callers may pass whichever they kept.
Tensor CpuBackend::unary_backward(UnaryOp op, const Tensor& x, const Tensor& y, const Tensor& gy,
                                  float slope) {
  std::string name = std::string(unary_name(op)) + "_backward";
  const char* opname = name.c_str();
  check_cpu(opname, gy, "gy");
  STEADY_CHECK(x.defined() || y.defined(), opname, ": needs the input x or the output y, got ",
               "neither");
  const bool from_x = op == UnaryOp::Relu || op == UnaryOp::LeakyRelu || op == UnaryOp::Log;
  const bool use_x = x.defined() && (from_x || !y.defined());
  const Tensor& operand = use_x ? x : y;
  check_cpu(opname, operand, use_x ? "x" : "y");
  STEADY_CHECK(use_x || op != UnaryOp::LeakyRelu || slope >= 0.f, opname,
               ": with a negative slope the gradient needs x, got only y");
  STEADY_CHECK(operand.shape() == gy.shape() && operand.dtype() == gy.dtype(), opname, ": ",
               use_x ? "x " : "y ", operand.str(), " does not match gy ", gy.str());
  Tensor gx = Tensor::empty(gy.shape(), Device::CPU, gy.dtype());
  const int64_t n = gy.numel();
  dispatch(gy.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* op_p = operand.data<T>();
    const T* g = gy.data<T>();
    T* out = gx.data<T>();
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
  return gx;
}

Tensor CpuBackend::binary(BinaryOp op, const Tensor& a, const Tensor& b) {
  const char* name = op == BinaryOp::Add ? "add" : op == BinaryOp::Sub ? "sub" : "mul";
  check_cpu(name, a, "a");
  check_cpu(name, b, "b");
  check_same_shape(name, a, b);
  Tensor out = Tensor::empty(a.shape(), Device::CPU, a.dtype());
  const int64_t n = a.numel();
  dispatch(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* ap = a.data<T>();
    const T* bp = b.data<T>();
    T* o = out.data<T>();
    switch (op) {
      case BinaryOp::Add:
#pragma omp parallel for if (n > kParallelThreshold) schedule(static)
        for (int64_t i = 0; i < n; ++i) o[i] = ap[i] + bp[i];
        break;
      case BinaryOp::Sub:
#pragma omp parallel for if (n > kParallelThreshold) schedule(static)
        for (int64_t i = 0; i < n; ++i) o[i] = ap[i] - bp[i];
        break;
      case BinaryOp::Mul:
#pragma omp parallel for if (n > kParallelThreshold) schedule(static)
        for (int64_t i = 0; i < n; ++i) o[i] = ap[i] * bp[i];
        break;
    }
  });
  return out;
}

Tensor CpuBackend::scale_shift(const Tensor& x, double scale, double shift) {
  check_cpu("scale_shift", x, "x");
  Tensor out = Tensor::empty(x.shape(), Device::CPU, x.dtype());
  const int64_t n = x.numel();
  dispatch(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* xp = x.data<T>();
    T* o = out.data<T>();
    const T s = static_cast<T>(scale), t = static_cast<T>(shift);
#pragma omp parallel for if (n > kParallelThreshold) schedule(static)
    for (int64_t i = 0; i < n; ++i) o[i] = xp[i] * s + t;
  });
  return out;
}

void CpuBackend::accumulate(Tensor& dst, const Tensor& src, double alpha) {
  check_cpu("accumulate", dst, "dst");
  check_cpu("accumulate", src, "src");
  check_same_shape("accumulate", dst, src);
  const int64_t n = dst.numel();
  dispatch(dst.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* d = dst.data<T>();  // data() honours the view's offset into a flat buffer
    const T* s = src.data<T>();
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

Tensor CpuBackend::sum(const Tensor& x) {
  check_cpu("sum", x, "x");
  Tensor out = Tensor::empty({1}, Device::CPU, x.dtype());
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
  return out;
}

Tensor CpuBackend::broadcast_scalar(const Tensor& s, const Shape& shape, double scale) {
  check_cpu("broadcast_scalar", s, "s");
  STEADY_CHECK(s.numel() == 1, "broadcast_scalar: s must have one element, got ", s.str());
  Tensor out = Tensor::empty(shape, Device::CPU, s.dtype());
  const int64_t n = out.numel();
  dispatch(s.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T v = static_cast<T>(static_cast<double>(s.data<T>()[0]) * scale);
    T* o = out.data<T>();
#pragma omp parallel for if (n > kParallelThreshold) schedule(static)
    for (int64_t i = 0; i < n; ++i) o[i] = v;
  });
  return out;
}

}  // namespace steady
