// Resampling and channel layout on the CPU, NCHW, float32 and float64:
//  - max_pool2d: window k, stride s, no padding, output floor((H-k)/s)+1 as PyTorch. The first
//    maximum in row-major window order wins (a NaN counts as the maximum, so it propagates);
//    the backward pass re-finds it from x and routes the gradient there.
//  - upsample_nearest2d by an integer factor; its backward sums each factor x factor block.
//  - resize_bilinear with align_corners=false exactly as PyTorch's F.interpolate(mode=
//    'bilinear', align_corners=False) given an output size: source coordinate
//    (dst + 0.5) * in/out - 0.5, clamped below at 0, the upper tap clamped at the edge. The
//    backward pass scatters with the same weights, so it is the exact adjoint.
//  - concat_channels / slice_channels along dimension 1 (copies; the result is contiguous). A
//    blocked tensor's channel ranges on whole blocks lie where a plain one's do, so the same
//    copies serve both layouts (the entry points send only such ranges).
// max pooling and nearest upsampling have loops of their own for blocked tensors
// (engine/layout.h), picking and adding in the plain loops' order.
// Work is split over (n, c) planes, so every output element is written by one thread and the
// backward scatters are race-free and deterministic. This is the CPU twin of
// kernels/resample.cu (written separately) and the reference it is checked against. Tested in
// tests/test_ops/kernels_reference.cpp (PyTorch's known values for bilinear down and up, naive
// max-pool and upsample loops, concat/slice round trip) and by the finite-difference gradient
// checks in tests/test_ops.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "engine/cpu/cpu_backend.h"
#include "kernels/cpu_kernel_util.h"

namespace steady {

using cpu_kernel::dispatch;
using cpu_kernel::kParallelThreshold;

namespace {

// Index of the first maximum of the k x k window whose top-left corner is (y0, x0) in a plane
// of width w; NaN wins over any number, the first NaN over later ones.
template <class T>
int64_t window_argmax(const T* plane, int64_t w, int64_t y0, int64_t x0, int k) {
  int64_t best = y0 * w + x0;
  T best_v = plane[best];
  for (int dy = 0; dy < k; ++dy) {
    for (int dx = 0; dx < k; ++dx) {
      int64_t idx = (y0 + dy) * w + (x0 + dx);
      T v = plane[idx];
      if (v > best_v || (std::isnan(v) && !std::isnan(best_v))) {
        best_v = v;
        best = idx;
      }
    }
  }
  return best;
}

// The models' pooling window (k = s = 2) without jumps: the position (0..3, row-major) of the
// first maximum of a, b, c, d with NaN winning, as window_argmax. Selects, not branches: which of
// four activations is largest is a coin toss for the branch predictor (the branching loop was
// about a tenth of the HDR step's own time).
template <class T>
struct Max4 {
  T value;
  int at;
};
// Takes v (at position i) when it beats m; bitwise, not short-circuit: || and && would be
// branches again.
template <class T>
inline void take_if_greater(Max4<T>& m, T v, int i) {
  const bool take = (v > m.value) | ((v != v) & (m.value == m.value));
  m.value = take ? v : m.value;
  m.at = take ? i : m.at;
}
template <class T>
inline Max4<T> max4(T a, T b, T c, T d) {
  Max4<T> m{a, 0};
  take_if_greater(m, b, 1);
  take_if_greater(m, c, 2);
  take_if_greater(m, d, 3);
  return m;
}

// One axis of an align_corners=false bilinear resize: for each output index the two source
// taps and their weights, computed in T as PyTorch does for its scalar type.
template <class T>
struct BilinearAxis {
  std::vector<int64_t> i0, i1;
  std::vector<T> w0, w1;
  BilinearAxis(int64_t in, int64_t out) : i0(out), i1(out), w0(out), w1(out) {
    const T scale = static_cast<T>(in) / static_cast<T>(out);
    for (int64_t d = 0; d < out; ++d) {
      T src = scale * (static_cast<T>(d) + T(0.5)) - T(0.5);
      if (src < T(0)) src = T(0);
      int64_t lo = static_cast<int64_t>(src);
      if (lo > in - 1) lo = in - 1;
      int64_t hi = lo < in - 1 ? lo + 1 : lo;
      T lambda = src - static_cast<T>(lo);
      i0[d] = lo;
      i1[d] = hi;
      w0[d] = T(1) - lambda;
      w1[d] = lambda;
    }
  }
};

}  // namespace

namespace {

// fn(p, in, out) for each of the N*C planes p of in [N,C,h,w] and out [N,C,ho,wo], the planes
// in parallel when `work` (the loop's element count) is worth it.
template <class T, class Fn>
void for_each_plane(const Tensor& in, Tensor& out, int64_t work, Fn fn) {
  const int64_t planes = in.size(0) * in.size(1);
  const int64_t in_plane = in.size(2) * in.size(3), out_plane = out.size(2) * out.size(3);
  const T* ip = in.data<T>();
  T* op = out.data<T>();
#pragma omp parallel for if (work > kParallelThreshold) schedule(static)
  for (int64_t p = 0; p < planes; ++p) fn(p, ip + p * in_plane, op + p * out_plane);
}

// The same for blocked tensors (engine/layout.h): fn(block, in, out) for each of the N*C/16
// [H, W, 16] blocks, whose 16 channels lie side by side at each position.
template <class Fn>
void for_each_block(const Tensor& in, Tensor& out, int64_t work, Fn fn) {
  const int64_t blocks = in.size(0) * in.size(1) / kBlock;
  const int64_t in_block = in.size(2) * in.size(3) * kBlock;
  const int64_t out_block = out.size(2) * out.size(3) * kBlock;
  const float* ip = in.data_any_layout<float>();
  float* op = out.data_any_layout<float>();
#pragma omp parallel for if (work > kParallelThreshold) schedule(static)
  for (int64_t b = 0; b < blocks; ++b) fn(b, ip + b * in_block, op + b * out_block);
}

// Max pooling of blocked tensors, each channel as window_argmax picks: the first maximum in
// row-major window order, NaN winning. at[l] receives the winner's position (y * w + x).
void blocked_window_max(const float* in, int64_t w, int64_t y0, int64_t x0, int k, float* best,
                        int64_t* at) {
  for (int64_t l = 0; l < kBlock; ++l) {
    best[l] = in[(y0 * w + x0) * kBlock + l];
    at[l] = y0 * w + x0;
  }
  for (int dy = 0; dy < k; ++dy)
    for (int dx = 0; dx < k; ++dx) {
      const int64_t pos = (y0 + dy) * w + x0 + dx;
      for (int64_t l = 0; l < kBlock; ++l) {
        const float v = in[pos * kBlock + l];
        const bool take = (v > best[l]) | ((v != v) & (best[l] == best[l]));
        best[l] = take ? v : best[l];
        at[l] = take ? pos : at[l];
      }
    }
}

// The models' 2x2, stride 2 window on a blocked tensor, four channels at a time through GCC and
// Clang vector types: written as scalar selects, the compiler kept them as branches. The same
// rule as window_argmax (first maximum in row-major order, NaN winning).
using Float4 = float __attribute__((vector_size(16)));
using Int4 = int32_t __attribute__((vector_size(16)));
inline Float4 load4(const float* p) {
  Float4 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store4(float* p, Float4 v) { std::memcpy(p, &v, sizeof v); }
inline void take_if_greater4(Float4& best, Int4& at, Float4 v, int i) {
  const Int4 take = (v > best) | ((v != v) & (best == best));
  best = take ? v : best;
  at = take ? Int4{i, i, i, i} : at;
}
// Window maxima and their positions (0..3) for 4 channels whose top-left values are at a and
// bottom-left at c (the right neighbours kBlock further).
inline Float4 window_max4(const float* a, const float* c, Int4& at) {
  Float4 best = load4(a);
  at = Int4{0, 0, 0, 0};
  take_if_greater4(best, at, load4(a + kBlock), 1);
  take_if_greater4(best, at, load4(c), 2);
  take_if_greater4(best, at, load4(c + kBlock), 3);
  return best;
}

void max_pool2x2_blocked(const Tensor& x, Tensor& y) {
  const int64_t w = x.size(3), ho = y.size(2), wo = y.size(3);
  for_each_block(x, y, y.numel() * 4, [&](int64_t, const float* in, float* out) {
    for (int64_t oy = 0; oy < ho; ++oy)
      for (int64_t ox = 0; ox < wo; ++ox) {
        const float* a = in + (2 * oy * w + 2 * ox) * kBlock;
        float* o = out + (oy * wo + ox) * kBlock;
        Int4 at;
        for (int64_t l = 0; l < kBlock; l += 4) store4(o + l, window_max4(a + l, a + w * kBlock + l, at));
      }
  });
}

void max_pool2x2_backward_blocked(const Tensor& x, const Tensor& gy, Tensor& gx) {
  const int64_t h = x.size(2), w = x.size(3), ho = gy.size(2), wo = gy.size(3);
  const float* gyp = gy.data_any_layout<float>();
  const Float4 zero{0.f, 0.f, 0.f, 0.f};
  for_each_block(x, gx, gy.numel() * 4, [&](int64_t b, const float* in, float* out) {
    const float* g = gyp + b * ho * wo * kBlock;
    for (int64_t oy = 0; oy < ho; ++oy) {
      for (int64_t ox = 0; ox < wo; ++ox) {
        const int64_t a = (2 * oy * w + 2 * ox) * kBlock, c = a + w * kBlock;
        for (int64_t l = 0; l < kBlock; l += 4) {
          Int4 at;
          window_max4(in + a + l, in + c + l, at);
          const Float4 v = load4(g + (oy * wo + ox) * kBlock + l);
          store4(out + a + l, at == 0 ? v : zero);
          store4(out + a + kBlock + l, at == 1 ? v : zero);
          store4(out + c + l, at == 2 ? v : zero);
          store4(out + c + kBlock + l, at == 3 ? v : zero);
        }
      }
      if (w % 2)  // the odd last column no window covers
        for (int64_t r = 2 * oy; r < 2 * oy + 2; ++r)
          std::fill(out + (r * w + w - 1) * kBlock, out + (r * w + w) * kBlock, 0.f);
    }
    if (h % 2) std::fill(out + (h - 1) * w * kBlock, out + h * w * kBlock, 0.f);
  });
}

void max_pool2d_blocked(const Tensor& x, int k, int s, Tensor& y) {
  if (k == 2 && s == 2) return max_pool2x2_blocked(x, y);
  const int64_t w = x.size(3), ho = y.size(2), wo = y.size(3);
  for_each_block(x, y, y.numel() * k * k, [&](int64_t, const float* in, float* out) {
    float best[kBlock];
    int64_t at[kBlock];
    for (int64_t oy = 0; oy < ho; ++oy)
      for (int64_t ox = 0; ox < wo; ++ox) {
        blocked_window_max(in, w, oy * s, ox * s, k, best, at);
        for (int64_t l = 0; l < kBlock; ++l) out[(oy * wo + ox) * kBlock + l] = best[l];
      }
  });
}

void max_pool2d_backward_blocked(const Tensor& x, const Tensor& gy, int k, int s, Tensor& gx) {
  if (k == 2 && s == 2) return max_pool2x2_backward_blocked(x, gy, gx);
  const int64_t w = x.size(3), ho = gy.size(2), wo = gy.size(3);
  const int64_t gy_block = ho * wo * kBlock;
  const float* gyp = gy.data_any_layout<float>();
  for_each_block(x, gx, gy.numel() * k * k, [&](int64_t b, const float* in, float* out) {
    std::fill(out, out + x.size(2) * w * kBlock, 0.f);  // windows scatter into it
    const float* g = gyp + b * gy_block;
    float best[kBlock];
    int64_t at[kBlock];
    for (int64_t oy = 0; oy < ho; ++oy)
      for (int64_t ox = 0; ox < wo; ++ox) {
        blocked_window_max(in, w, oy * s, ox * s, k, best, at);
        for (int64_t l = 0; l < kBlock; ++l)
          out[at[l] * kBlock + l] += g[(oy * wo + ox) * kBlock + l];
      }
  });
}

void upsample_nearest2d_blocked(const Tensor& x, int factor, Tensor& y) {
  const int64_t w = x.size(3), ho = y.size(2), wo = y.size(3);
  for_each_block(x, y, y.numel(), [&](int64_t, const float* in, float* out) {
    for (int64_t oy = 0; oy < ho; ++oy)
      for (int64_t ox = 0; ox < wo; ++ox)
        std::copy(in + ((oy / factor) * w + ox / factor) * kBlock,
                  in + ((oy / factor) * w + ox / factor + 1) * kBlock,
                  out + (oy * wo + ox) * kBlock);
  });
}

// Sums each factor x factor block in the plain loop's order (dy, then dx).
void upsample_nearest2d_backward_blocked(const Tensor& gy, int factor, Tensor& gx) {
  const int64_t wo = gy.size(3), h = gx.size(2), w = gx.size(3);
  for_each_block(gy, gx, gy.numel(), [&](int64_t, const float* g, float* out) {
    for (int64_t iy = 0; iy < h; ++iy)
      for (int64_t ix = 0; ix < w; ++ix) {
        float acc[kBlock] = {};
        for (int dy = 0; dy < factor; ++dy)
          for (int dx = 0; dx < factor; ++dx) {
            const float* src = g + ((iy * factor + dy) * wo + ix * factor + dx) * kBlock;
            for (int64_t l = 0; l < kBlock; ++l) acc[l] += src[l];
          }
        std::copy(acc, acc + kBlock, out + (iy * w + ix) * kBlock);
      }
  });
}

}  // namespace

void CpuBackend::max_pool2d_impl(const Tensor& x, int k, int s, Tensor& y) {
  if (x.blocked()) return max_pool2d_blocked(x, k, s, y);
  const int64_t w = x.size(3), ho = y.size(2), wo = y.size(3);
  dispatch(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    for_each_plane<T>(x, y, y.numel() * k * k, [&](int64_t, const T* plane, T* out) {
      for (int64_t oy = 0; oy < ho; ++oy) {
        if (k == 2 && s == 2) {
          const T* r0 = plane + 2 * oy * w;
          const T* r1 = r0 + w;
          for (int64_t ox = 0; ox < wo; ++ox)
            out[oy * wo + ox] = max4(r0[2 * ox], r0[2 * ox + 1], r1[2 * ox], r1[2 * ox + 1]).value;
          continue;
        }
        for (int64_t ox = 0; ox < wo; ++ox)
          out[oy * wo + ox] = plane[window_argmax(plane, w, oy * s, ox * s, k)];
      }
    });
  });
}

void CpuBackend::max_pool2d_backward_impl(const Tensor& x, const Tensor& gy, int k, int s,
                                          Tensor& gx) {
  if (x.blocked()) return max_pool2d_backward_blocked(x, gy, k, s, gx);
  const int64_t h = x.size(2), w = x.size(3), ho = gy.size(2), wo = gy.size(3);
  if (k == 2 && s == 2) {  // disjoint windows: each element written once, no scatter
    dispatch(x.dtype(), [&](auto tag) {
      using T = decltype(tag);
      for_each_plane<T>(x, gx, gy.numel() * 4, [&](int64_t p, const T* plane, T* out) {
        const T* g = gy.data<T>() + p * ho * wo;
        for (int64_t oy = 0; oy < ho; ++oy) {
          const T* r0 = plane + 2 * oy * w;
          const T* r1 = r0 + w;
          T* o0 = out + 2 * oy * w;
          T* o1 = o0 + w;
          for (int64_t ox = 0; ox < wo; ++ox) {
            const int at = max4(r0[2 * ox], r0[2 * ox + 1], r1[2 * ox], r1[2 * ox + 1]).at;
            const T gv = g[oy * wo + ox];
            o0[2 * ox] = at == 0 ? gv : T(0);
            o0[2 * ox + 1] = at == 1 ? gv : T(0);
            o1[2 * ox] = at == 2 ? gv : T(0);
            o1[2 * ox + 1] = at == 3 ? gv : T(0);
          }
          if (w % 2) o0[w - 1] = o1[w - 1] = T(0);  // the odd last column no window covers
        }
        if (h % 2) std::fill(out + (h - 1) * w, out + h * w, T(0));  // and the odd last row
      });
    });
    return;
  }
  fill_impl(gx, 0.0);  // windows scatter into it
  dispatch(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    for_each_plane<T>(x, gx, gy.numel() * k * k, [&](int64_t p, const T* plane, T* out) {
      const T* g = gy.data<T>() + p * ho * wo;
      // Overlapping windows (s < k) may pick the same element: contributions add.
      for (int64_t oy = 0; oy < ho; ++oy)
        for (int64_t ox = 0; ox < wo; ++ox)
          out[window_argmax(plane, w, oy * s, ox * s, k)] += g[oy * wo + ox];
    });
  });
}

void CpuBackend::upsample_nearest2d_impl(const Tensor& x, int factor, Tensor& y) {
  if (x.blocked()) return upsample_nearest2d_blocked(x, factor, y);
  const int64_t h = x.size(2), w = x.size(3), wo = w * factor;
  dispatch(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    for_each_plane<T>(x, y, y.numel(), [&](int64_t, const T* in, T* out) {
      // Each input row is widened once into its first output row, which is then copied to the
      // other factor - 1 rows (no division per element).
      for (int64_t iy = 0; iy < h; ++iy) {
        const T* row = in + iy * w;
        T* first = out + iy * factor * wo;
        for (int64_t ix = 0; ix < w; ++ix)
          for (int f = 0; f < factor; ++f) first[ix * factor + f] = row[ix];
        for (int f = 1; f < factor; ++f) std::copy_n(first, wo, first + f * wo);
      }
    });
  });
}

void CpuBackend::upsample_nearest2d_backward_impl(const Tensor& gy, int factor, Tensor& gx) {
  if (gy.blocked()) return upsample_nearest2d_backward_blocked(gy, factor, gx);
  const int64_t wo = gy.size(3), h = gx.size(2), w = gx.size(3);
  dispatch(gy.dtype(), [&](auto tag) {
    using T = decltype(tag);
    for_each_plane<T>(gy, gx, gy.numel(), [&](int64_t, const T* g, T* out) {
      for (int64_t iy = 0; iy < h; ++iy) {
        for (int64_t ix = 0; ix < w; ++ix) {
          T acc = T(0);
          for (int dy = 0; dy < factor; ++dy)
            for (int dx = 0; dx < factor; ++dx)
              acc += g[(iy * factor + dy) * wo + ix * factor + dx];
          out[iy * w + ix] = acc;
        }
      }
    });
  });
}

void CpuBackend::resize_bilinear_impl(const Tensor& x, Tensor& y) {
  const int64_t h = x.size(2), w = x.size(3), out_h = y.size(2), out_w = y.size(3);
  dispatch(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const BilinearAxis<T> ay(h, out_h), ax(w, out_w);
    for_each_plane<T>(x, y, y.numel() * 4, [&](int64_t, const T* in, T* out) {
      for (int64_t oy = 0; oy < out_h; ++oy) {
        const T* r0 = in + ay.i0[oy] * w;
        const T* r1 = in + ay.i1[oy] * w;
        const T wy0 = ay.w0[oy], wy1 = ay.w1[oy];
        for (int64_t ox = 0; ox < out_w; ++ox) {
          const int64_t c0 = ax.i0[ox], c1 = ax.i1[ox];
          out[oy * out_w + ox] = wy0 * (ax.w0[ox] * r0[c0] + ax.w1[ox] * r0[c1]) +
                                 wy1 * (ax.w0[ox] * r1[c0] + ax.w1[ox] * r1[c1]);
        }
      }
    });
  });
}

void CpuBackend::resize_bilinear_backward_impl(const Tensor& gy, Tensor& gx) {
  const int64_t out_h = gy.size(2), out_w = gy.size(3), in_h = gx.size(2), in_w = gx.size(3);
  fill_impl(gx, 0.0);  // output pixels scatter into it
  dispatch(gy.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const BilinearAxis<T> ay(in_h, out_h), ax(in_w, out_w);
    for_each_plane<T>(gy, gx, gy.numel() * 4, [&](int64_t, const T* g, T* out) {
      for (int64_t oy = 0; oy < out_h; ++oy) {
        T* r0 = out + ay.i0[oy] * in_w;
        T* r1 = out + ay.i1[oy] * in_w;
        const T wy0 = ay.w0[oy], wy1 = ay.w1[oy];
        for (int64_t ox = 0; ox < out_w; ++ox) {
          const T v = g[oy * out_w + ox];
          const int64_t c0 = ax.i0[ox], c1 = ax.i1[ox];
          r0[c0] += wy0 * ax.w0[ox] * v;
          r0[c1] += wy0 * ax.w1[ox] * v;
          r1[c0] += wy1 * ax.w0[ox] * v;
          r1[c1] += wy1 * ax.w1[ox] * v;
        }
      }
    });
  });
}

void CpuBackend::concat_channels_impl(const std::vector<Tensor>& xs, Tensor& y) {
  const Tensor& first = xs[0];
  const int64_t total_c = y.size(1);
  const int64_t n = first.size(0);
  int64_t plane = 1;  // elements of one channel: H*W for NCHW
  for (int d = 2; d < first.dim(); ++d) plane *= first.size(d);
  const size_t elem = dtype_size(first.dtype());
  char* out = static_cast<char*>(y.raw());
#pragma omp parallel for if (y.numel() > kParallelThreshold) schedule(static)
  for (int64_t b = 0; b < n; ++b) {
    int64_t c_offset = 0;
    for (const Tensor& t : xs) {
      const int64_t block = t.size(1) * plane;  // elements of one sample of t
      const char* src = static_cast<const char*>(t.raw()) + b * block * elem;
      char* dst = out + (b * total_c + c_offset) * plane * elem;
      if (block > 0) std::memcpy(dst, src, block * elem);
      c_offset += t.size(1);
    }
  }
}

void CpuBackend::slice_channels_impl(const Tensor& x, int64_t begin, Tensor& y) {
  const int64_t n = x.size(0), c = x.size(1), end = begin + y.size(1);
  int64_t plane = 1;
  for (int d = 2; d < x.dim(); ++d) plane *= x.size(d);
  const size_t elem = dtype_size(x.dtype());
  const int64_t block = (end - begin) * plane;
  const char* in = static_cast<const char*>(x.raw());
  char* out = static_cast<char*>(y.raw());
#pragma omp parallel for if (y.numel() > kParallelThreshold) schedule(static)
  for (int64_t b = 0; b < n; ++b) {
    if (block > 0)
      std::memcpy(out + b * block * elem, in + (b * c + begin) * plane * elem, block * elem);
  }
}

}  // namespace steady
