// Per-element math of the elementwise ops (the unary activations, their derivatives, the binary
// ops), shared by the CPU twin
// (kernels/elementwise.cpp, float and double) and the CUDA kernels (kernels/elementwise.cu,
// float), so both compute the same expressions. A product that feeds an addition is rounded on
// its own on the device (__fmul_rn): the CPU does not fuse it into an FMA either.
//
// Each gradient is taken from the operand it is most accurate from: relu, leaky relu and log from
// the input x; sigmoid, tanh, exp and rsqrt from the output y. When that one is not kept the other is
// used (y recomputed from x, or x recovered from y); the entry point (engine/backend.cpp) picks.
#pragma once
#include <cmath>

#include "engine/backend.h"

#ifdef __CUDACC__
#define STEADY_ELEMENTWISE_HD __host__ __device__ __forceinline__
#else
#define STEADY_ELEMENTWISE_HD inline
#endif

namespace steady {
namespace unary {

template <class T>
STEADY_ELEMENTWISE_HD T mul_rn(T a, T b) {
#ifdef __CUDA_ARCH__
  if constexpr (sizeof(T) == 4) return __fmul_rn(a, b);
#endif
  return a * b;
}

template <class T>
STEADY_ELEMENTWISE_HD T sigmoid(T x) {
  // Two branches so that exp never overflows for large |x|.
  if (x >= T(0)) return T(1) / (T(1) + std::exp(-x));
  const T e = std::exp(x);
  return e / (T(1) + e);
}

template <class T>
STEADY_ELEMENTWISE_HD T apply(UnaryOp op, T x, T slope) {
  switch (op) {
    case UnaryOp::Relu: return x > T(0) ? x : T(0);
    case UnaryOp::LeakyRelu: return x > T(0) ? x : slope * x;
    case UnaryOp::Sigmoid: return sigmoid(x);
    case UnaryOp::Tanh: return std::tanh(x);
    case UnaryOp::Exp: return std::exp(x);
    case UnaryOp::Log: return std::log(x);
    case UnaryOp::Rsqrt: return T(1) / std::sqrt(x);
  }
  return x;
}

// d(op)/dx from the operand v: x when use_x, else y.
template <class T>
STEADY_ELEMENTWISE_HD T derivative(UnaryOp op, T v, T slope, bool use_x) {
  switch (op) {
    case UnaryOp::Relu: return v > T(0) ? T(1) : T(0);  // y > 0 exactly when x > 0; 0 at 0
    case UnaryOp::LeakyRelu: return v > T(0) ? T(1) : slope;  // from y too when slope >= 0
    case UnaryOp::Sigmoid: {
      const T y = use_x ? sigmoid(v) : v;
      return y * (T(1) - y);
    }
    case UnaryOp::Tanh: {
      const T y = use_x ? std::tanh(v) : v;
      return T(1) - mul_rn(y, y);
    }
    case UnaryOp::Exp: return use_x ? std::exp(v) : v;
    case UnaryOp::Log: return T(1) / (use_x ? v : std::exp(v));
    case UnaryOp::Rsqrt: {  // d/dx x^(-1/2) = -y^3 / 2
      const T y = use_x ? T(1) / std::sqrt(v) : v;
      return T(-0.5) * mul_rn(mul_rn(y, y), y);
    }
  }
  return T(0);
}

}  // namespace unary

namespace binary {

template <class T>
STEADY_ELEMENTWISE_HD T apply(BinaryOp op, T a, T b) {
  switch (op) {
    case BinaryOp::Add: return a + b;
    case BinaryOp::Sub: return a - b;
    case BinaryOp::Mul: return a * b;
    case BinaryOp::Max: return (a > b || a != a) ? a : b;  // NaN from either side, as torch.maximum
  }
  return a;
}

// The share of the upstream gradient that goes to a in maximum(a, b) (b's is the same with the
// two swapped): all of it where a is the larger, half on a tie, none otherwise.
template <class T>
STEADY_ELEMENTWISE_HD T maximum_grad_share(T a, T b) {
  return a > b ? T(1) : (a == b ? T(0.5) : T(0));
}

}  // namespace binary
}  // namespace steady
