// CPU convolutions: conv2d and conv_transpose2d, forward and backward, float32 and float64.
//
// Everything is one plain convolution seen from three sides. Call the tensor that im2col reads
// the "image" [N, C_im, H_im, W_im] and the other one the "columns" side [N, C_col, H_col, W_col];
// w is the matrix [C_col, C_im*k*k] and col = im2col(image) is [C_im*k*k, H_col*W_col]:
//   forward_data:   columns = w * im2col(image)            (conv2d forward)
//   backward_data:  image   = col2im(w^T * columns)        (conv2d grad_x, conv_transpose2d forward)
//   weight grad:    gw     += columns * im2col(image)^T    (both grad_w)
// conv2d's image side is x; conv_transpose2d's image side is its output, whose w [Ci,Co,k,k]
// already is the [C_col, C_im, k, k] matrix above. So conv_transpose2d forward is conv2d's
// backward-data and conv_transpose2d's grad_x is conv2d's forward.
//
// Threading: the batch is split over OpenMP threads, each with its own im2col buffer, and
// OpenBLAS runs single-threaded inside. With one sample, one thread or a tiny layer the loop is
// sequential and OpenBLAS uses its threads (OpenBLAS's OpenMP build, the one CMake prefers,
// shares ours). Measured on x [8,64,128,128], w [64,64,3,3], pad 1, F32, forward + backward,
// best of 6 on the shared 2-core machine: batch-parallel 274-297 ms, sequential samples with
// 2-thread OpenBLAS 393-586 ms.
//
// Tested by tests/test_ops/conv_reference.cpp against direct loops in double.
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <type_traits>
#include <vector>

#include "engine/conv_geometry.h"
#include "kernels/conv_dnnl.h"
#include "engine/cpu/cpu_backend.h"
#include "engine/layout.h"
#include "kernels/cpu_kernel_util.h"

namespace steady {
namespace {

// Shapes of one convolution, named from the image / columns sides described above.
struct ConvGeometry : ConvShape {
  // The im2col matrix is built a few output rows at a time, so that the chunk GEMM reads is
  // still in cache and a worker's buffer stays small (a whole sample of a 64-channel 128x128
  // 3x3 layer would be 37 MB).
  int64_t chunk_rows = 1;

  int64_t image_plane() const { return h_im * w_im; }
  int64_t col_plane() const { return h_col * w_col; }
  int64_t image_sample() const { return c_im * image_plane(); }
  int64_t col_sample() const { return c_col * col_plane(); }
  int64_t col_rows() const { return c_im * k * k; }  // rows of the im2col matrix
  // A 1x1, stride-1, unpadded convolution's im2col matrix is the image itself.
  bool col_is_image() const { return k == 1 && stride == 1 && pad == 0; }
  int64_t col_buffer_size() const { return col_is_image() ? 0 : col_rows() * chunk_rows * w_col; }
  // multiply-adds of one pass (forward, backward-data or weight gradient) over the batch
  double macs() const { return double(batch) * c_col * col_rows() * col_plane(); }
};

// Elements of one im2col chunk: large enough for GEMM to run at full speed, small enough to
// stay in cache (1 MB of float32). 2^18, 2^19 and 2^20 measured within noise of each other on
// the benchmark layer; building whole samples at once (37 MB) was 1.3-2x slower.
constexpr int64_t kChunkElements = int64_t(1) << 18;

void plan_chunks(ConvGeometry& g) {
  const int64_t row_elements = g.col_rows() * g.w_col;
  g.chunk_rows = g.col_is_image()
                     ? g.h_col
                     : std::min(g.h_col, std::max<int64_t>(1, kChunkElements / row_elements));
}

// ---- BLAS: row-major GEMM C = alpha * op(A) * op(B) + beta * C
inline void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                 const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
                 int64_t ldc) {
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
              trans_b ? CblasTrans : CblasNoTrans, (blasint)m, (blasint)n, (blasint)k, alpha, a,
              (blasint)lda, b, (blasint)ldb, beta, c, (blasint)ldc);
}
inline void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha,
                 const double* a, int64_t lda, const double* b, int64_t ldb, double beta,
                 double* c, int64_t ldc) {
  cblas_dgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
              trans_b ? CblasTrans : CblasNoTrans, (blasint)m, (blasint)n, (blasint)k, alpha, a,
              (blasint)lda, b, (blasint)ldb, beta, c, (blasint)ldc);
}

// The range [lo, hi) of output columns ow whose input column ow*stride - pad + kj lies inside
// [0, width).
inline void valid_range(int64_t kj, int64_t stride, int64_t pad, int64_t width, int64_t count,
                        int64_t* lo, int64_t* hi) {
  // smallest ow with ow*stride >= pad - kj, and first ow with ow*stride > width - 1 + pad - kj
  int64_t first = pad - kj;
  int64_t l = first <= 0 ? 0 : (first + stride - 1) / stride;
  int64_t last = width - 1 + pad - kj;
  int64_t h = last < 0 ? 0 : last / stride + 1;
  *lo = std::min(l, count);
  *hi = std::max(*lo, std::min(h, count));
}

// Output rows [row_begin, row_end) of the im2col matrix, a [col_rows, (row_end-row_begin)*w_col]
// block: col[(c*k + ki)*k + kj][(oh - row_begin)*w_col + ow] =
// image[c][oh*stride - pad + ki][ow*stride - pad + kj], zero outside the image.
template <class T>
void im2col(const ConvGeometry& g, const T* image, int64_t row_begin, int64_t row_end, T* col) {
  const int64_t width = (row_end - row_begin) * g.w_col;
  for (int64_t c = 0; c < g.c_im; ++c) {
    const T* channel = image + c * g.image_plane();
    for (int64_t ki = 0; ki < g.k; ++ki) {
      for (int64_t kj = 0; kj < g.k; ++kj) {
        T* row = col + ((c * g.k + ki) * g.k + kj) * width;
        int64_t lo, hi;
        valid_range(kj, g.stride, g.pad, g.w_im, g.w_col, &lo, &hi);
        for (int64_t oh = row_begin; oh < row_end; ++oh) {
          T* dst = row + (oh - row_begin) * g.w_col;
          const int64_t ih = oh * g.stride - g.pad + ki;
          if (ih < 0 || ih >= g.h_im) {
            std::fill(dst, dst + g.w_col, T(0));
            continue;
          }
          std::fill(dst, dst + lo, T(0));
          // input column of output column ow is base + ow*stride (inside for ow in [lo, hi))
          const int64_t base = ih * g.w_im - g.pad + kj;
          if (g.stride == 1) {
            std::copy(channel + (base + lo), channel + (base + hi), dst + lo);
          } else {
            for (int64_t ow = lo; ow < hi; ++ow) dst[ow] = channel[base + ow * g.stride];
          }
          std::fill(dst + hi, dst + g.w_col, T(0));
        }
      }
    }
  }
}

// The adjoint of im2col on the same rows: every entry of the block is added back to the image
// pixel it was read from (the caller zeroes the image once per sample).
template <class T>
void col2im_add(const ConvGeometry& g, const T* col, int64_t row_begin, int64_t row_end,
                T* image) {
  const int64_t width = (row_end - row_begin) * g.w_col;
  for (int64_t c = 0; c < g.c_im; ++c) {
    T* channel = image + c * g.image_plane();
    for (int64_t ki = 0; ki < g.k; ++ki) {
      for (int64_t kj = 0; kj < g.k; ++kj) {
        const T* row = col + ((c * g.k + ki) * g.k + kj) * width;
        int64_t lo, hi;
        valid_range(kj, g.stride, g.pad, g.w_im, g.w_col, &lo, &hi);
        for (int64_t oh = row_begin; oh < row_end; ++oh) {
          const int64_t ih = oh * g.stride - g.pad + ki;
          if (ih < 0 || ih >= g.h_im) continue;
          const T* src = row + (oh - row_begin) * g.w_col;
          const int64_t base = ih * g.w_im - g.pad + kj;
          for (int64_t ow = lo; ow < hi; ++ow) channel[base + ow * g.stride] += src[ow];
        }
      }
    }
  }
}

// ---- one sample, chunk by chunk. w is the [c_col, col_rows] matrix; a chunk of output rows
// [r0, r1) is the column block starting at r0*w_col of the columns side (leading dimension
// col_plane) and the whole of the im2col buffer (leading dimension `width`).

template <class F>
void for_each_chunk(const ConvGeometry& g, F f) {
  for (int64_t r0 = 0; r0 < g.h_col; r0 += g.chunk_rows)
    f(r0, std::min(g.h_col, r0 + g.chunk_rows));
}

// columns = w * im2col(image) + beta * columns
template <class T>
void forward_data_sample(const ConvGeometry& g, const T* w, const T* image, T* col, T* columns,
                         T beta) {
  for_each_chunk(g, [&](int64_t r0, int64_t r1) {
    const int64_t width = (r1 - r0) * g.w_col;
    const T* cols = image;
    if (!g.col_is_image()) {
      im2col(g, image, r0, r1, col);
      cols = col;
    }
    gemm(false, false, g.c_col, width, g.col_rows(), T(1), w, g.col_rows(), cols, width, beta,
         columns + r0 * g.w_col, g.col_plane());
  });
}

// image = col2im(w^T * columns)
template <class T>
void backward_data_sample(const ConvGeometry& g, const T* w, const T* columns, T* col, T* image) {
  if (g.col_is_image()) {
    gemm(true, false, g.col_rows(), g.col_plane(), g.c_col, T(1), w, g.col_rows(), columns,
         g.col_plane(), T(0), image, g.col_plane());
    return;
  }
  std::fill(image, image + g.image_sample(), T(0));
  for_each_chunk(g, [&](int64_t r0, int64_t r1) {
    const int64_t width = (r1 - r0) * g.w_col;
    gemm(true, false, g.col_rows(), width, g.c_col, T(1), w, g.col_rows(),
         columns + r0 * g.w_col, g.col_plane(), T(0), col, width);
    col2im_add(g, col, r0, r1, image);
  });
}

// gw += columns * im2col(image)^T, and from the same im2col chunks, when requested:
//   image_grad   = col2im(w^T * columns)   (conv2d: image x, columns gy)
//   columns_grad = w * im2col(image)       (conv_transpose2d: image gy, columns x)
template <class T>
void weight_and_data_grad_sample(const ConvGeometry& g, const T* w, const T* image,
                                 const T* columns, T* col, T* gw, T* image_grad,
                                 T* columns_grad) {
  if (image_grad && g.col_is_image()) {  // the GEMM below writes straight into image_grad
    gemm(false, true, g.c_col, g.col_rows(), g.col_plane(), T(1), columns, g.col_plane(), image,
         g.col_plane(), T(1), gw, g.col_rows());
    backward_data_sample(g, w, columns, col, image_grad);
    return;
  }
  if (image_grad) std::fill(image_grad, image_grad + g.image_sample(), T(0));
  for_each_chunk(g, [&](int64_t r0, int64_t r1) {
    const int64_t width = (r1 - r0) * g.w_col, offset = r0 * g.w_col;
    const T* cols = image;
    if (!g.col_is_image()) {
      im2col(g, image, r0, r1, col);
      cols = col;
    }
    gemm(false, true, g.c_col, g.col_rows(), width, T(1), columns + offset, g.col_plane(), cols,
         width, T(1), gw, g.col_rows());
    if (columns_grad) {
      gemm(false, false, g.c_col, width, g.col_rows(), T(1), w, g.col_rows(), cols, width, T(0),
           columns_grad + offset, g.col_plane());
    }
    if (image_grad) {  // reuses the buffer: cols is not needed any more
      gemm(true, false, g.col_rows(), width, g.c_col, T(1), w, g.col_rows(), columns + offset,
           g.col_plane(), T(0), col, width);
      col2im_add(g, col, r0, r1, image_grad);
    }
  });
}

// Sets OpenBLAS to one thread while batch-parallel OpenMP threads call it, and restores it.
class SingleThreadedBlas {
 public:
  explicit SingleThreadedBlas(bool active) : active_(active) {
    if (active_) {
      saved_ = openblas_get_num_threads();
      openblas_set_num_threads(1);
    }
  }
  ~SingleThreadedBlas() {
    if (active_) openblas_set_num_threads(saved_);
  }
  SingleThreadedBlas(const SingleThreadedBlas&) = delete;
  SingleThreadedBlas& operator=(const SingleThreadedBlas&) = delete;

 private:
  bool active_;
  int saved_ = 1;
};

// Below this many multiply-adds per pass a parallel region costs more than it saves.
constexpr double kParallelMacs = 4e6;

int batch_workers(const ConvGeometry& g) {
  // inside a caller's parallel region the caller already uses the cores
  if (g.macs() < kParallelMacs || omp_in_parallel()) return 1;
  return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(g.batch, omp_get_max_threads())));
}

// Runs body(sample, worker, col_buffer) for every sample of the batch. With more than one
// worker the samples are split statically over OpenMP threads (so a worker's samples, and any
// per-worker accumulation order, depend only on the batch size and the thread count) and BLAS
// runs single-threaded inside; otherwise the loop is sequential and BLAS keeps its threads.
// Buffers are allocated here, before any parallel region, so body never allocates or throws.
template <class T, class Body>
void for_each_sample(const ConvGeometry& g, int workers, Body body) {
  std::vector<std::unique_ptr<T[]>> col(workers);
  for (auto& c : col) c.reset(new T[std::max<int64_t>(1, g.col_buffer_size())]);
  if (workers == 1) {
    for (int64_t n = 0; n < g.batch; ++n) body(n, 0, col[0].get());
    return;
  }
  SingleThreadedBlas single(true);
#pragma omp parallel num_threads(workers)
  {
    const int worker = omp_get_thread_num();
#pragma omp for schedule(static)
    for (int64_t n = 0; n < g.batch; ++n) body(n, worker, col[worker].get());
  }
}

// ---- whole-batch operations

template <class T>
void add_bias(const ConvGeometry& g, const T* bias, int64_t channels, int64_t plane, T* out) {
#pragma omp parallel for collapse(2) schedule(static) if (g.batch * channels * plane > (1 << 18))
  for (int64_t n = 0; n < g.batch; ++n) {
    for (int64_t c = 0; c < channels; ++c) {
      T* p = out + (n * channels + c) * plane;
      const T b = bias[c];
      for (int64_t i = 0; i < plane; ++i) p[i] += b;
    }
  }
}

// The same on a blocked y (engine/layout.h): channel b * 16 + l is lane l of block b.
void add_bias_blocked(const float* bias, Tensor& y) {
  const int64_t blocks = y.size(1) / kBlock, plane = y.size(2) * y.size(3);
  float* out = y.data_any_layout<float>();
#pragma omp parallel for collapse(2) schedule(static) if (y.numel() > (1 << 18))
  for (int64_t n = 0; n < y.size(0); ++n)
    for (int64_t b = 0; b < blocks; ++b) {
      float* p = out + (n * blocks + b) * plane * kBlock;
      for (int64_t i = 0; i < plane; ++i)
        for (int64_t l = 0; l < kBlock; ++l) p[i * kBlock + l] += bias[b * kBlock + l];
    }
}

// grad_b of a blocked gy (sums in cpu_kernel::blocked_channel_sums's order).
void bias_grad_blocked(const Tensor& gy, Tensor& gb) {
  const float* src = gy.data_any_layout<float>();
  const std::vector<double> sum = cpu_kernel::blocked_channel_sums(
      gy, [src](int64_t at, int64_t) { return static_cast<double>(src[at]); });
  for (int64_t c = 0; c < gy.size(1); ++c) gb.data<float>()[c] = static_cast<float>(sum[c]);
}

// grad_b[c] = sum of gy over N, H, W (accumulated in double for float32 too).
template <class T>
void bias_grad(const Tensor& gy, Tensor& gb) {
  if (gy.blocked()) return bias_grad_blocked(gy, gb);
  const int64_t batch = gy.size(0), channels = gy.size(1), plane = gy.size(2) * gy.size(3);
  const T* src = gy.data<T>();
  T* dst = gb.data<T>();
#pragma omp parallel for schedule(static) if (batch * channels * plane > (1 << 18))
  for (int64_t c = 0; c < channels; ++c) {
    double total = 0;
    for (int64_t n = 0; n < batch; ++n) {
      const T* p = src + (n * channels + c) * plane;
      total += cpu_kernel::lane_sum(plane, [p](int64_t i) { return static_cast<double>(p[i]); });
    }
    dst[c] = static_cast<T>(total);
  }
}

// columns [N, c_col, h_col, w_col] = w * im2col(image) (+ bias per column channel)
template <class T>
void forward_data(const ConvGeometry& g, const T* w, const T* image, const T* bias, T* columns) {
  const int workers = batch_workers(g);
  for_each_sample<T>(g, workers, [&](int64_t n, int, T* col) {
    T* out = columns + n * g.col_sample();
    T beta = 0;
    if (bias) {  // start from the bias and let the GEMM add onto it
      for (int64_t c = 0; c < g.c_col; ++c)
        std::fill(out + c * g.col_plane(), out + (c + 1) * g.col_plane(), bias[c]);
      beta = 1;
    }
    forward_data_sample(g, w, image + n * g.image_sample(), col, out, beta);
  });
}

// image [N, c_im, h_im, w_im] = col2im(w^T * columns)
template <class T>
void backward_data(const ConvGeometry& g, const T* w, const T* columns, T* image) {
  const int workers = batch_workers(g);
  for_each_sample<T>(g, workers, [&](int64_t n, int, T* col) {
    backward_data_sample(g, w, columns + n * g.col_sample(), col, image + n * g.image_sample());
  });
}

// gw = sum over the batch of columns * im2col(image)^T, plus one data gradient (see
// weight_and_data_grad_sample).
template <class T>
void weight_and_data_grad(const ConvGeometry& g, const T* w, const T* image, const T* columns,
                          T* gw, T* image_grad, T* columns_grad) {
  const int workers = batch_workers(g);
  const int64_t gw_size = g.c_col * g.col_rows();
  // Per-worker partial sums, added in worker order at the end: deterministic for a given
  // thread count.
  std::vector<std::unique_ptr<T[]>> partial(workers);
  for (auto& p : partial) {
    p.reset(new T[gw_size]);
    std::fill(p.get(), p.get() + gw_size, T(0));
  }
  for_each_sample<T>(g, workers, [&](int64_t n, int worker, T* col) {
    weight_and_data_grad_sample(g, w, image + n * g.image_sample(), columns + n * g.col_sample(),
                                col, partial[worker].get(),
                                image_grad ? image_grad + n * g.image_sample() : nullptr,
                                columns_grad ? columns_grad + n * g.col_sample() : nullptr);
  });
  std::copy(partial[0].get(), partial[0].get() + gw_size, gw);
  for (int t = 1; t < workers; ++t) {
    const T* p = partial[t].get();
    for (int64_t i = 0; i < gw_size; ++i) gw[i] += p[i];
  }
}

ConvGeometry planned(const ConvShape& shape) {
  ConvGeometry g;
  static_cast<ConvShape&>(g) = shape;
  plan_chunks(g);
  return g;
}

// float32 goes to oneDNN (conv_dnnl.h) wherever it takes the geometry.
template <class T>
bool use_dnnl(const ConvGeometry& g) {
  return std::is_same_v<T, float> && dnnl_conv::supports(g);
}

// Where a float32 operand is blocked (engine/layout.h): only oneDNN reads that layout.
dnnl_conv::Sides sides(bool transposed, const Tensor& x, const Tensor& y) {
  const Tensor& image = transposed ? y : x;
  const Tensor& columns = transposed ? x : y;
  return {image.blocked(), columns.blocked()};
}

template <class T>
void conv2d_typed(const ConvGeometry& g, const Tensor& x, const Tensor& w, const Tensor& b,
                  Tensor& y) {
  if constexpr (std::is_same_v<T, float>) {
    if (use_dnnl<T>(g)) {
      dnnl_conv::forward(g, sides(false, x, y), x.data_any_layout<T>(), w.data<T>(),
                         b.defined() ? b.data<T>() : nullptr, y.data_any_layout<T>());
      return;
    }
  }
  forward_data<T>(g, w.data<T>(), x.data<T>(), b.defined() ? b.data<T>() : nullptr, y.data<T>());
}

// Both backward passes: conv2d's image side is x and its columns side gy; conv_transpose2d's the
// other way round (conv_geometry.h). The bias gradient sums gy over its channels either way.
template <class T>
void conv_backward_typed(bool transposed, const ConvGeometry& g, const Tensor& x, const Tensor& w,
                         const Tensor& gy, ConvGrads& r) {
  if (r.grad_b.defined()) bias_grad<T>(gy, r.grad_b);
  if constexpr (std::is_same_v<T, float>) {
    if (use_dnnl<T>(g)) {
      T* grad_x = r.grad_x.defined() ? r.grad_x.data_any_layout<T>() : nullptr;
      if (transposed)
        dnnl_conv::transposed_backward(g, sides(true, x, gy), gy.data_any_layout<T>(),
                                       w.data<T>(), x.data_any_layout<T>(), r.grad_w.data<T>(),
                                       grad_x);
      else
        dnnl_conv::conv_backward(g, sides(false, x, gy), x.data_any_layout<T>(), w.data<T>(),
                                 gy.data_any_layout<T>(), r.grad_w.data<T>(), grad_x);
      return;
    }
  }
  T* grad_x = r.grad_x.defined() ? r.grad_x.data<T>() : nullptr;
  const Tensor& image = transposed ? gy : x;
  const Tensor& columns = transposed ? x : gy;
  weight_and_data_grad<T>(g, w.data<T>(), image.data<T>(), columns.data<T>(), r.grad_w.data<T>(),
                          transposed ? nullptr : grad_x, transposed ? grad_x : nullptr);
}

template <class T>
void conv_transpose2d_typed(const ConvGeometry& g, const Tensor& x, const Tensor& w,
                            const Tensor& b, Tensor& y) {
  if constexpr (std::is_same_v<T, float>) {
    if (use_dnnl<T>(g)) {
      dnnl_conv::backward_data(g, sides(true, x, y), w.data<T>(), x.data_any_layout<T>(),
                               y.data_any_layout<T>());
      if (b.defined()) {
        if (y.blocked()) add_bias_blocked(b.data<T>(), y);
        else add_bias<T>(g, b.data<T>(), g.c_im, g.image_plane(), y.data<T>());
      }
      return;
    }
  }
  backward_data<T>(g, w.data<T>(), x.data<T>(), y.data<T>());
  if (b.defined()) add_bias<T>(g, b.data<T>(), g.c_im, g.image_plane(), y.data<T>());
}

// im2col reads plain tensors only: a float32 geometry oneDNN does not take (rare: a transposed
// convolution with output_pad > pad) runs on plain copies of blocked operands.
bool blocked_without_dnnl(const ConvGeometry& g, std::initializer_list<const Tensor*> ts) {
  if (dnnl_conv::supports(g)) return false;
  for (const Tensor* t : ts)
    if (t->defined() && t->blocked()) return true;
  return false;
}

void forward_through_plain(bool transposed, const ConvGeometry& g, const Tensor& x,
                           const Tensor& w, const Tensor& b, Tensor& y) {
  Tensor out = Tensor::empty(y.shape());
  if (transposed) conv_transpose2d_typed<float>(g, plain(x), w, b, out);
  else conv2d_typed<float>(g, plain(x), w, b, out);
  y.copy_from(relayout(out, y.layout()));
}

void backward_through_plain(bool transposed, const ConvGeometry& g, const Tensor& x,
                            const Tensor& w, const Tensor& gy, ConvGrads& r) {
  ConvGrads p = r;
  if (r.grad_x.defined()) p.grad_x = Tensor::empty(r.grad_x.shape());
  conv_backward_typed<float>(transposed, g, plain(x), w, plain(gy), p);
  if (r.grad_x.defined()) r.grad_x.copy_from(relayout(p.grad_x, r.grad_x.layout()));
}

}  // namespace

namespace {

// Both directions of both convolutions: float64 on im2col, float32 on oneDNN (through plain
// copies where oneDNN cannot take the geometry and an operand is blocked).
void forward_impl(bool transposed, const ConvShape& shape, const Tensor& x, const Tensor& w,
                  const Tensor& b, Tensor& y) {
  const ConvGeometry g = planned(shape);
  if (x.dtype() == DType::F64) {
    if (transposed) conv_transpose2d_typed<double>(g, x, w, b, y);
    else conv2d_typed<double>(g, x, w, b, y);
  } else if (blocked_without_dnnl(g, {&x, &y})) {
    forward_through_plain(transposed, g, x, w, b, y);
  } else if (transposed) {
    conv_transpose2d_typed<float>(g, x, w, b, y);
  } else {
    conv2d_typed<float>(g, x, w, b, y);
  }
}

void backward_impl(bool transposed, const ConvShape& shape, const Tensor& x, const Tensor& w,
                   const Tensor& gy, ConvGrads& grads) {
  const ConvGeometry g = planned(shape);
  if (x.dtype() == DType::F64) conv_backward_typed<double>(transposed, g, x, w, gy, grads);
  else if (blocked_without_dnnl(g, {&x, &gy})) backward_through_plain(transposed, g, x, w, gy, grads);
  else conv_backward_typed<float>(transposed, g, x, w, gy, grads);
}

}  // namespace

void CpuBackend::conv2d_impl(const ConvShape& shape, const Tensor& x, const Tensor& w,
                             const Tensor& b, Tensor& y) {
  forward_impl(false, shape, x, w, b, y);
}
void CpuBackend::conv2d_backward_impl(const ConvShape& shape, const Tensor& x, const Tensor& w,
                                      const Tensor& gy, ConvGrads& grads) {
  backward_impl(false, shape, x, w, gy, grads);
}
void CpuBackend::conv_transpose2d_impl(const ConvShape& shape, const Tensor& x, const Tensor& w,
                                       const Tensor& b, Tensor& y) {
  forward_impl(true, shape, x, w, b, y);
}
void CpuBackend::conv_transpose2d_backward_impl(const ConvShape& shape, const Tensor& x,
                                                const Tensor& w, const Tensor& gy,
                                                ConvGrads& grads) {
  backward_impl(true, shape, x, w, gy, grads);
}

}  // namespace steady
