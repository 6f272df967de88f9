// CpuBackend's conv2d and conv_transpose2d (kernels/conv.cpp: oneDNN for float32 where it takes
// the geometry, im2col + BLAS otherwise) against direct
// loops in double written from the definitions, on random shapes: strides 1-2, paddings 0-2,
// output_pad 0-1 (when < stride), kernels 1-4, with and without bias, batch >= 2 (plus one
// batch-1 case, which takes the sequential path), in float32 and float64. The backward cases also
// check the adjoint identity <conv(x, w), gy> = <x, gx> = <w, gw>, which ties the reference
// backward loops to the reference forward loops.
#include <doctest/doctest.h>

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include "engine/backend.h"
#include "engine/rng.h"

using namespace steady;

namespace conv_reference {

struct ConvCase {
  int64_t n, ci, co, h, w, k;  // x [n, ci, h, w]; conv2d w [co, ci, k, k], transposed [ci, co, k, k]
  int stride, pad, output_pad;
  bool bias;
};

int64_t conv_out(int64_t in, const ConvCase& c) { return (in + 2 * c.pad - c.k) / c.stride + 1; }
int64_t transposed_out(int64_t in, const ConvCase& c) {
  return (in - 1) * c.stride - 2 * c.pad + c.k + c.output_pad;
}

// Case `index` of `count`: stride, pad, output_pad and bias run through all their combinations
// in turn; the sizes are random. The second-to-last case is wide, the last has batch 1.
ConvCase make_case(Rng& rng, bool transposed, int index, int count) {
  ConvCase c;
  c.stride = 1 + index % 2;
  c.pad = (index / 2) % 3;
  c.output_pad = transposed ? (index / 6) % c.stride : 0;
  c.bias = (index / 12) % 2 == 0;
  c.n = index == count - 1 ? 1 : 2 + static_cast<int64_t>(rng.below(2));
  const bool medium = index % 5 == 4;  // a few larger ones for BLAS's blocked paths
  c.ci = 1 + static_cast<int64_t>(rng.below(medium ? 24 : 5));
  c.co = 1 + static_cast<int64_t>(rng.below(medium ? 24 : 5));
  c.k = 1 + static_cast<int64_t>(rng.below(4));
  if (index == count - 2) {
    // Wide enough that conv.cpp builds its im2col matrix in chunks of output rows: 64 image-side
    // channels with a 3x3 kernel and ~1000 output columns per row.
    (transposed ? c.co : c.ci) = 64;
    (transposed ? c.ci : c.co) = 1 + static_cast<int64_t>(rng.below(2));
    c.k = 3;
    for (;;) {
      c.h = 3 + static_cast<int64_t>(rng.below(2));
      c.w = 1000 + static_cast<int64_t>(rng.below(100));
      if (!transposed || transposed_out(c.h, c) >= 1) return c;
    }
  }
  for (;;) {
    c.h = 1 + static_cast<int64_t>(rng.below(medium ? 20 : 9));
    c.w = 1 + static_cast<int64_t>(rng.below(medium ? 20 : 9));
    const bool valid = transposed ? transposed_out(c.h, c) >= 1 && transposed_out(c.w, c) >= 1
                                  : c.h + 2 * c.pad >= c.k && c.w + 2 * c.pad >= c.k;
    if (valid) return c;
  }
}

std::vector<double> random_values(int64_t count, Rng& rng) {
  std::vector<double> v(count);
  for (double& x : v) x = rng.uniform(-1.0, 1.0);
  return v;
}

Tensor make_tensor(const std::vector<double>& v, const Shape& shape, DType dtype) {
  return Tensor::from_vector(v, shape, Device::CPU, dtype);
}

// Index helpers for NCHW and [A, B, k, k].
struct Dims4 {
  int64_t d0, d1, d2, d3;
  int64_t at(int64_t a, int64_t b, int64_t c, int64_t d) const {
    return ((a * d1 + b) * d2 + c) * d3 + d;
  }
};

// ---- Both convolutions from the definition. conv2d gathers,
//   y[n,o,i,j] = b[o] + sum_{c,p,q} x[n, c, i*s - pad + p, j*s - pad + q] * w[o, c, p, q],
// and conv_transpose2d (PyTorch's) scatters every input pixel's kernel,
//   y[n, o, i*s - pad + p, j*s - pad + q] += x[n, c, i, j] * w[c, o, p, q], then + b[o],
// with output size (H-1)*s - 2*pad + k + output_pad. Both are the same set of terms between a
// "columns" side (conv2d's output, conv_transpose2d's input) at (i, j) and an "image" side at
// (i*s - pad + p, j*s - pad + q), the weight always [columns channels, image channels, k, k].
struct Sides {
  Dims4 columns, image, weight;
};
Sides sides(const ConvCase& c, bool transposed) {
  const int64_t col_c = transposed ? c.ci : c.co, img_c = transposed ? c.co : c.ci;
  const Dims4 columns = transposed ? Dims4{c.n, c.ci, c.h, c.w}
                                   : Dims4{c.n, c.co, conv_out(c.h, c), conv_out(c.w, c)};
  const Dims4 image = transposed ? Dims4{c.n, c.co, transposed_out(c.h, c), transposed_out(c.w, c)}
                                 : Dims4{c.n, c.ci, c.h, c.w};
  return {columns, image, Dims4{col_c, img_c, c.k, c.k}};
}

// fn(columns index, image index, weight index) for every term of the sum, padding left out.
template <class Fn>
void for_each_term(const ConvCase& c, bool transposed, Fn fn) {
  const Sides d = sides(c, transposed);
  for (int64_t n = 0; n < c.n; ++n)
    for (int64_t oc = 0; oc < d.columns.d1; ++oc)
      for (int64_t i = 0; i < d.columns.d2; ++i)
        for (int64_t j = 0; j < d.columns.d3; ++j)
          for (int64_t ic = 0; ic < d.image.d1; ++ic)
            for (int64_t p = 0; p < c.k; ++p)
              for (int64_t q = 0; q < c.k; ++q) {
                const int64_t r = i * c.stride - c.pad + p, s = j * c.stride - c.pad + q;
                if (r < 0 || r >= d.image.d2 || s < 0 || s >= d.image.d3) continue;
                fn(d.columns.at(n, oc, i, j), d.image.at(n, ic, r, s), d.weight.at(oc, ic, p, q));
              }
}

// The channel of every element of a [N, C, H, W] side.
int64_t channel_of(const Dims4& d, int64_t index) { return index / (d.d2 * d.d3) % d.d1; }
int64_t size_of(const Dims4& d) { return d.d0 * d.d1 * d.d2 * d.d3; }

std::vector<double> naive_conv(const ConvCase& c, bool transposed, const std::vector<double>& x,
                               const std::vector<double>& w, const std::vector<double>& b) {
  const Sides d = sides(c, transposed);
  const Dims4& out = transposed ? d.image : d.columns;
  std::vector<double> y(size_of(out));
  for (int64_t e = 0; e < size_of(out) && !b.empty(); ++e) y[e] = b[channel_of(out, e)];
  for_each_term(c, transposed, [&](int64_t col, int64_t img, int64_t wi) {
    if (transposed)
      y[img] += x[col] * w[wi];
    else
      y[col] += x[img] * w[wi];
  });
  return y;
}

struct NaiveGrads {
  std::vector<double> gx, gw, gb;
};

// The derivatives of the sum above, term by term.
NaiveGrads naive_conv_backward(const ConvCase& c, bool transposed, const std::vector<double>& x,
                               const std::vector<double>& w, const std::vector<double>& gy) {
  const Sides d = sides(c, transposed);
  const Dims4& out = transposed ? d.image : d.columns;
  NaiveGrads g{std::vector<double>(x.size()), std::vector<double>(w.size()),
               std::vector<double>(c.co)};
  for (int64_t e = 0; e < size_of(out); ++e) g.gb[channel_of(out, e)] += gy[e];
  for_each_term(c, transposed, [&](int64_t col, int64_t img, int64_t wi) {
    const int64_t xi = transposed ? col : img, yi = transposed ? img : col;
    g.gx[xi] += gy[yi] * w[wi];
    g.gw[wi] += gy[yi] * x[xi];
  });
  return g;
}

// max |got - want| relative to max(1, max |want|)
double normalized_error(const std::vector<double>& got, const std::vector<double>& want) {
  REQUIRE(got.size() == want.size());
  double worst = 0, scale = 1;
  for (size_t i = 0; i < got.size(); ++i) {
    worst = std::max(worst, std::abs(got[i] - want[i]));
    scale = std::max(scale, std::abs(want[i]));
  }
  return worst / scale;
}

double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

double tolerance(DType dtype) { return dtype == DType::F64 ? 1e-12 : 1e-5; }

std::string describe(const ConvCase& c, DType dtype) {
  std::ostringstream os;
  os << dtype_name(dtype) << " x [" << c.n << "," << c.ci << "," << c.h << "," << c.w
     << "] co " << c.co << " k " << c.k << " stride " << c.stride << " pad " << c.pad
     << " output_pad " << c.output_pad << (c.bias ? " bias" : " no bias");
  return os.str();
}

constexpr int kCases = 48;

void run_forward(bool transposed, DType dtype, uint64_t seed) {
  Rng rng(seed);
  Backend& cpu = cpu_backend();
  for (int index = 0; index < kCases; ++index) {
    const ConvCase c = make_case(rng, transposed, index, kCases);
    CAPTURE(describe(c, dtype));
    const Shape x_shape{c.n, c.ci, c.h, c.w};
    const Shape w_shape = transposed ? Shape{c.ci, c.co, c.k, c.k} : Shape{c.co, c.ci, c.k, c.k};
    Tensor x = make_tensor(random_values(shape_numel(x_shape), rng), x_shape, dtype);
    Tensor w = make_tensor(random_values(shape_numel(w_shape), rng), w_shape, dtype);
    Tensor b;
    if (c.bias) b = make_tensor(random_values(c.co, rng), {c.co}, dtype);
    // The reference reads the values the tensors hold (rounded to float32 for F32).
    const std::vector<double> xv = x.to_host(), wv = w.to_host();
    const std::vector<double> bv = c.bias ? b.to_host() : std::vector<double>();
    Conv2dArgs args{c.stride, c.pad, c.output_pad};

    Tensor y = transposed ? cpu.conv_transpose2d(x, w, b, args) : cpu.conv2d(x, w, b, args);
    const Shape want_shape =
        transposed ? Shape{c.n, c.co, transposed_out(c.h, c), transposed_out(c.w, c)}
                   : Shape{c.n, c.co, conv_out(c.h, c), conv_out(c.w, c)};
    REQUIRE(y.shape() == want_shape);
    CHECK(y.dtype() == dtype);
    const std::vector<double> want = naive_conv(c, transposed, xv, wv, bv);
    CHECK(normalized_error(y.to_host(), want) <= tolerance(dtype));
  }
}

void run_backward(bool transposed, DType dtype, uint64_t seed) {
  Rng rng(seed);
  Backend& cpu = cpu_backend();
  const int blas_threads = openblas_get_num_threads();
  for (int index = 0; index < kCases; ++index) {
    const ConvCase c = make_case(rng, transposed, index, kCases);
    CAPTURE(describe(c, dtype));
    const Shape x_shape{c.n, c.ci, c.h, c.w};
    const Shape w_shape = transposed ? Shape{c.ci, c.co, c.k, c.k} : Shape{c.co, c.ci, c.k, c.k};
    const Shape y_shape =
        transposed ? Shape{c.n, c.co, transposed_out(c.h, c), transposed_out(c.w, c)}
                   : Shape{c.n, c.co, conv_out(c.h, c), conv_out(c.w, c)};
    Tensor x = make_tensor(random_values(shape_numel(x_shape), rng), x_shape, dtype);
    Tensor w = make_tensor(random_values(shape_numel(w_shape), rng), w_shape, dtype);
    Tensor gy = make_tensor(random_values(shape_numel(y_shape), rng), y_shape, dtype);
    const std::vector<double> xv = x.to_host(), wv = w.to_host(), gyv = gy.to_host();
    Conv2dArgs args{c.stride, c.pad, c.output_pad};

    ConvGrads g = transposed ? cpu.conv_transpose2d_backward(x, w, {true, c.bias}, gy, args)
                             : cpu.conv2d_backward(x, w, {true, c.bias}, gy, args);
    const NaiveGrads want = naive_conv_backward(c, transposed, xv, wv, gyv);
    REQUIRE(g.grad_x.shape() == x_shape);
    REQUIRE(g.grad_w.shape() == w_shape);
    CHECK(g.grad_x.dtype() == dtype);
    CHECK(normalized_error(g.grad_x.to_host(), want.gx) <= tolerance(dtype));
    CHECK(normalized_error(g.grad_w.to_host(), want.gw) <= tolerance(dtype));
    REQUIRE(g.grad_b.defined() == c.bias);
    if (c.bias) {
      REQUIRE(g.grad_b.shape() == Shape{c.co});
      CHECK(normalized_error(g.grad_b.to_host(), want.gb) <= tolerance(dtype));
    }

    // Without grad_x (a first layer) the other gradients are the same bits.
    const ConvGrads no_x = transposed ? cpu.conv_transpose2d_backward(x, w, {false, c.bias}, gy, args)
                                      : cpu.conv2d_backward(x, w, {false, c.bias}, gy, args);
    CHECK_FALSE(no_x.grad_x.defined());
    CHECK(no_x.grad_w.to_host() == g.grad_w.to_host());
    if (c.bias) CHECK(no_x.grad_b.to_host() == g.grad_b.to_host());

    // The reference backward is the adjoint of the reference forward (without bias).
    const std::vector<double> y = naive_conv(c, transposed, xv, wv, {});
    const double yy = dot(y, gyv), xx = dot(xv, want.gx), ww = dot(wv, want.gw);
    const double scale = std::max(1.0, std::abs(yy));
    CHECK(std::abs(yy - xx) <= 1e-12 * scale);
    CHECK(std::abs(yy - ww) <= 1e-12 * scale);
  }
  // The batch-parallel path sets OpenBLAS to one thread while it runs; it must restore it.
  CHECK(openblas_get_num_threads() == blas_threads);
}

}  // namespace conv_reference

using namespace conv_reference;

// Forward and backward of both convolutions in both dtypes against the naive loops; each of
// the eight runs has its own seed (forward 1xx, backward 3xx; transposed +100; f64 +1).
TEST_CASE("conv2d and conv_transpose2d vs naive, forward and backward, f32 and f64") {
  for (bool transposed : {false, true})
    for (DType dtype : {DType::F32, DType::F64}) {
      const uint64_t seed = 101 + (transposed ? 100 : 0) + (dtype == DType::F64 ? 1 : 0);
      CAPTURE(transposed);
      CAPTURE(dtype_name(dtype));
      run_forward(transposed, dtype, seed);
      run_backward(transposed, dtype, seed + 200);
    }
}

TEST_CASE("conv: argument checks name the op and the shapes") {
  Backend& cpu = cpu_backend();
  Rng rng(7);
  auto t = [&](const Shape& s, DType dtype = DType::F32) {
    return make_tensor(random_values(shape_numel(s), rng), s, dtype);
  };
  Tensor x = t({2, 3, 8, 8}), w = t({4, 3, 3, 3}), b = t({4});
  Conv2dArgs plain{1, 1, 0};

  // channel mismatch
  CHECK_THROWS_WITH_AS(cpu.conv2d(x, t({4, 5, 3, 3}), b, plain),
                       doctest::Contains("conv2d: x f32[2, 3, 8, 8] on cpu has 3 channels"),
                       Error);
  CHECK_THROWS_WITH_AS(cpu.conv_transpose2d(x, w, Tensor(), plain),
                       doctest::Contains("conv_transpose2d: x f32[2, 3, 8, 8] on cpu has 3"),
                       Error);
  // dims
  CHECK_THROWS_WITH_AS(cpu.conv2d(t({3, 8, 8}), w, b, plain),
                       doctest::Contains("conv2d: x must be [N, C, H, W]"), Error);
  CHECK_THROWS_WITH_AS(cpu.conv2d(x, t({4, 3, 3, 2}), b, plain),
                       doctest::Contains("conv2d: the kernel must be square"), Error);
  CHECK_THROWS_WITH_AS(cpu.conv2d(x, w, t({5}), plain),
                       doctest::Contains("conv2d: b must be [4]"), Error);
  // dtype mismatch
  CHECK_THROWS_WITH_AS(cpu.conv2d(x, t({4, 3, 3, 3}, DType::F64), b, plain),
                       doctest::Contains("different dtypes"), Error);
  CHECK_THROWS_WITH_AS(cpu.conv2d(x, w, t({4}, DType::F64), plain),
                       doctest::Contains("different dtypes"), Error);
  // stride, pad, output_pad
  CHECK_THROWS_WITH_AS(cpu.conv2d(x, w, b, Conv2dArgs{0, 1, 0}),
                       doctest::Contains("conv2d: stride must be >= 1"), Error);
  CHECK_THROWS_WITH_AS(cpu.conv2d(x, w, b, Conv2dArgs{1, -1, 0}),
                       doctest::Contains("conv2d: pad must be >= 0"), Error);
  CHECK_THROWS_WITH_AS(cpu.conv2d(x, w, b, Conv2dArgs{2, 1, 1}),
                       doctest::Contains("conv2d: output_pad applies to conv_transpose2d only"),
                       Error);
  Tensor wt = t({3, 4, 3, 3});
  CHECK_THROWS_WITH_AS(cpu.conv_transpose2d(x, wt, b, Conv2dArgs{2, 1, 2}),
                       doctest::Contains("output_pad must be in [0, stride)"), Error);
  // output size <= 0
  CHECK_THROWS_WITH_AS(cpu.conv2d(t({2, 3, 2, 2}), t({4, 3, 5, 5}), b, Conv2dArgs{1, 0, 0}),
                       doctest::Contains("conv2d: output size"), Error);
  CHECK_THROWS_WITH_AS(cpu.conv_transpose2d(t({2, 3, 1, 1}), t({3, 4, 1, 1}), Tensor(),
                                            Conv2dArgs{1, 1, 0}),
                       doctest::Contains("conv_transpose2d: output size"), Error);
  // gy must have the output shape
  CHECK_THROWS_WITH_AS(cpu.conv2d_backward(x, w, {}, t({2, 4, 7, 8}), plain),
                       doctest::Contains("conv2d_backward: gy f32[2, 4, 7, 8] on cpu must have "
                                         "the output shape [2, 4, 8, 8]"),
                       Error);
  CHECK_THROWS_WITH_AS(cpu.conv_transpose2d_backward(x, wt, {}, t({2, 4, 9, 8}), plain),
                       doctest::Contains("conv_transpose2d_backward: gy"), Error);
  CHECK_THROWS_WITH_AS(cpu.conv2d_backward(x, w, {}, t({2, 4, 8, 8}, DType::F64), plain),
                       doctest::Contains("conv2d_backward: gy"), Error);
  // undefined inputs
  CHECK_THROWS_WITH_AS(cpu.conv2d(Tensor(), w, b, plain),
                       doctest::Contains("conv2d: x is undefined"), Error);
  CHECK_THROWS_WITH_AS(cpu.conv2d(x, Tensor(), b, plain),
                       doctest::Contains("conv2d: w is undefined"), Error);
  // the valid call goes through
  CHECK(cpu.conv2d(x, w, b, plain).shape() == Shape{2, 4, 8, 8});
  CHECK(cpu.conv_transpose2d(x, wt, b, Conv2dArgs{2, 1, 1}).shape() == Shape{2, 4, 16, 16});
}
