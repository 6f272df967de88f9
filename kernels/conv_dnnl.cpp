// float32 convolutions through oneDNN (see conv_dnnl.h).
//
// Layout: oneDNN's direct convolutions are fastest on its blocked layouts (nChw16c on AVX-512),
// so every primitive is created with "any" layouts. Operands in another layout (NCHW tensors,
// OIHW weights) are reordered in and out around it, as PyTorch does for NCHW tensors; blocked
// activations (engine/layout.h) go in and come out as they are. Measured on the benchmark layer
// and the whole training steps (docs/BENCHMARKS.md): even with the reorders the blocked kernels
// beat oneDNN's own NCHW (im2col + GEMM) path.
//
// Primitives are created once per geometry and kept (creation is milliseconds: JIT code
// generation); a process meets a handful of geometries per model. algorithm::convolution_direct
// only, never Winograd: its rounding would differ from the reference beyond float32 noise.
// oneDNN runs on our OpenMP threads (Debian's libdnnl is built with OpenMP) and its reductions
// are in a fixed order for a fixed thread count, so training stays deterministic.
#include "kernels/conv_dnnl.h"

#include <dnnl.hpp>

#include <array>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "engine/cpu/host_allocator.h"
#include "engine/tensor.h"

namespace steady::dnnl_conv {
namespace {

using dnnl::memory;
using tag = memory::format_tag;
constexpr auto f32 = memory::data_type::f32;

dnnl::engine& cpu_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

// The right padding that makes oneDNN's output size come out as ours (negative for a transposed
// convolution with output_pad > pad).
int64_t pad_right(int64_t in, int64_t out, const ConvShape& g) {
  return (out - 1) * g.stride + g.k - in - g.pad;
}

// One geometry's three primitives and the memory descriptors they chose.
struct Plan {
  dnnl::convolution_forward::primitive_desc fwd_pd;
  dnnl::convolution_backward_data::primitive_desc bwd_data_pd;
  dnnl::convolution_backward_weights::primitive_desc bwd_weights_pd;
  dnnl::convolution_forward fwd;
  dnnl::convolution_backward_data bwd_data;
  dnnl::convolution_backward_weights bwd_weights;
  memory::desc image_md, columns_md, weights_md, bias_md;  // ours: plain NCHW / OIHW / x
  std::vector<float> zero_bias;  // the forward's bias when a caller has none
};

Plan make_plan(const ConvShape& g) {
  Plan p;
  const memory::dims image{g.batch, g.c_im, g.h_im, g.w_im};
  const memory::dims columns{g.batch, g.c_col, g.h_col, g.w_col};
  const memory::dims weights{g.c_col, g.c_im, g.k, g.k};
  const memory::dims strides{g.stride, g.stride};
  const memory::dims pad_l{g.pad, g.pad};
  const memory::dims pad_r{pad_right(g.h_im, g.h_col, g), pad_right(g.w_im, g.w_col, g)};
  p.image_md = memory::desc(image, f32, tag::nchw);
  p.columns_md = memory::desc(columns, f32, tag::nchw);
  p.weights_md = memory::desc(weights, f32, tag::oihw);
  p.bias_md = memory::desc({g.c_col}, f32, tag::x);
  p.zero_bias.assign(static_cast<size_t>(g.c_col), 0.f);
  const memory::desc image_any(image, f32, tag::any), columns_any(columns, f32, tag::any),
      weights_any(weights, f32, tag::any);
  auto& engine = cpu_engine();
  const auto direct = dnnl::algorithm::convolution_direct;
  p.fwd_pd = dnnl::convolution_forward::primitive_desc(
      dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, direct, image_any,
                                      weights_any, p.bias_md, columns_any, strides, pad_l, pad_r),
      engine);
  p.bwd_data_pd = dnnl::convolution_backward_data::primitive_desc(
      dnnl::convolution_backward_data::desc(direct, image_any, weights_any, columns_any, strides,
                                            pad_l, pad_r),
      engine, p.fwd_pd);
  p.bwd_weights_pd = dnnl::convolution_backward_weights::primitive_desc(
      dnnl::convolution_backward_weights::desc(direct, image_any, weights_any, columns_any,
                                               strides, pad_l, pad_r),
      engine, p.fwd_pd);
  p.fwd = dnnl::convolution_forward(p.fwd_pd);
  p.bwd_data = dnnl::convolution_backward_data(p.bwd_data_pd);
  p.bwd_weights = dnnl::convolution_backward_weights(p.bwd_weights_pd);
  return p;
}

const Plan& plan_for(const ConvShape& g) {
  using Key = std::array<int64_t, 10>;
  static std::mutex mutex;
  static std::map<Key, std::unique_ptr<Plan>> plans;
  const Key key{g.batch, g.c_im, g.h_im, g.w_im, g.c_col, g.h_col, g.w_col, g.k, g.stride, g.pad};
  std::lock_guard<std::mutex> lock(mutex);
  auto& plan = plans[key];
  if (!plan) {
    try {
      plan = std::make_unique<Plan>(make_plan(g));
    } catch (const dnnl::error& e) {
      plans.erase(key);
      fail("oneDNN cannot run the convolution image [", g.batch, ",", g.c_im, ",", g.h_im, ",",
           g.w_im, "] -> columns [", g.c_col, ",", g.h_col, ",", g.w_col, "], k ", g.k,
           " stride ", g.stride, " pad ", g.pad, ": ", e.what());
    }
  }
  return *plan;
}

// A buffer for a reordered operand or result, from our host allocator: oneDNN's own would be a
// fresh mmap per call for a large one, its pages faulting in at every step.
class Scratch {
 public:
  explicit Scratch(const memory::desc& d)
      : bytes_(d.get_size()), data_(host_alloc(bytes_)), mem_(d, cpu_engine(), data_) {}
  ~Scratch() { host_free(data_, bytes_); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  memory mem() const { return mem_; }  // a handle: copies share the buffer

 private:
  size_t bytes_;
  void* data_;
  memory mem_;
};

// A user operand (plain layout), handed to primitives in the layouts they want. A layout is
// made once per call: the gradient that feeds both backward passes is reordered once.
class Operand {
 public:
  Operand(const memory::desc& ours, const void* data)
      : user_(ours, cpu_engine(), const_cast<void*>(data)) {}
  memory in(const memory::desc& wanted, dnnl::stream& stream) {
    if (wanted == user_.get_desc()) return user_;
    for (const auto& c : converted_)
      if (c->mem().get_desc() == wanted) return c->mem();
    converted_.push_back(std::make_unique<Scratch>(wanted));
    memory m = converted_.back()->mem();
    dnnl::reorder(user_, m).execute(stream, user_, m);
    return m;
  }

 private:
  memory user_;
  std::vector<std::unique_ptr<Scratch>> converted_;
};

// Runs a primitive whose result arrives in the layout it chose, then lands it in ours.
template <class Run>
void run_into(const memory::desc& ours, void* data, const memory::desc& produced,
              dnnl::stream& stream, Run run) {
  memory user(ours, cpu_engine(), data);
  if (produced == ours) {
    run(user);
  } else {
    Scratch scratch(produced);
    memory result = scratch.mem();
    run(result);
    dnnl::reorder(result, user).execute(stream, result, user);
    stream.wait();  // before the scratch goes
    return;
  }
  stream.wait();
}

void run_forward(const Plan& p, Operand& image, Operand& weights, const float* bias,
                 const memory::desc& columns_md, float* columns, dnnl::stream& stream) {
  memory src = image.in(p.fwd_pd.src_desc(), stream);
  memory w = weights.in(p.fwd_pd.weights_desc(), stream);
  memory b(p.bias_md, cpu_engine(), const_cast<float*>(bias ? bias : p.zero_bias.data()));
  run_into(columns_md, columns, p.fwd_pd.dst_desc(), stream, [&](memory& dst) {
    p.fwd.execute(stream, {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_BIAS, b},
                           {DNNL_ARG_DST, dst}});
  });
}

void run_backward_data(const Plan& p, Operand& weights, Operand& columns,
                       const memory::desc& image_md, float* image, dnnl::stream& stream) {
  memory diff_dst = columns.in(p.bwd_data_pd.diff_dst_desc(), stream);
  memory w = weights.in(p.bwd_data_pd.weights_desc(), stream);
  run_into(image_md, image, p.bwd_data_pd.diff_src_desc(), stream, [&](memory& diff_src) {
    p.bwd_data.execute(stream, {{DNNL_ARG_DIFF_DST, diff_dst}, {DNNL_ARG_WEIGHTS, w},
                                {DNNL_ARG_DIFF_SRC, diff_src}});
  });
}

void run_backward_weights(const Plan& p, Operand& image, Operand& columns_grad, float* gw,
                          dnnl::stream& stream) {
  memory src = image.in(p.bwd_weights_pd.src_desc(), stream);
  memory diff_dst = columns_grad.in(p.bwd_weights_pd.diff_dst_desc(), stream);
  run_into(p.weights_md, gw, p.bwd_weights_pd.diff_weights_desc(), stream, [&](memory& dw) {
    p.bwd_weights.execute(stream, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DIFF_DST, diff_dst},
                                   {DNNL_ARG_DIFF_WEIGHTS, dw}});
  });
}

// Our memory descriptor of one side: the plan's NCHW one, or nChw16c for a blocked tensor.
memory::desc side_md(const memory::desc& plain, bool blocked) {
  return blocked ? memory::desc(plain.dims(), f32, tag::nChw16c) : plain;
}

}  // namespace

bool supports(const ConvShape& g) {
  return pad_right(g.h_im, g.h_col, g) >= 0 && pad_right(g.w_im, g.w_col, g) >= 0;
}

void forward(const ConvShape& g, Sides sides, const float* image, const float* w,
             const float* bias, float* columns) {
  const Plan& p = plan_for(g);
  dnnl::stream stream(cpu_engine());
  Operand x(side_md(p.image_md, sides.image_blocked), image), weights(p.weights_md, w);
  run_forward(p, x, weights, bias, side_md(p.columns_md, sides.columns_blocked), columns, stream);
}

void backward_data(const ConvShape& g, Sides sides, const float* w, const float* columns,
                   float* image) {
  const Plan& p = plan_for(g);
  dnnl::stream stream(cpu_engine());
  Operand weights(p.weights_md, w), c(side_md(p.columns_md, sides.columns_blocked), columns);
  run_backward_data(p, weights, c, side_md(p.image_md, sides.image_blocked), image, stream);
}

void conv_backward(const ConvShape& g, Sides sides, const float* image, const float* w,
                   const float* columns_grad, float* gw, float* image_grad) {
  const Plan& p = plan_for(g);
  dnnl::stream stream(cpu_engine());
  Operand x(side_md(p.image_md, sides.image_blocked), image), weights(p.weights_md, w),
      gy(side_md(p.columns_md, sides.columns_blocked), columns_grad);
  run_backward_weights(p, x, gy, gw, stream);
  if (image_grad)
    run_backward_data(p, weights, gy, side_md(p.image_md, sides.image_blocked), image_grad,
                      stream);
}

void transposed_backward(const ConvShape& g, Sides sides, const float* image_grad,
                         const float* w, const float* columns, float* gw, float* columns_grad) {
  const Plan& p = plan_for(g);
  dnnl::stream stream(cpu_engine());
  Operand gy(side_md(p.image_md, sides.image_blocked), image_grad), weights(p.weights_md, w),
      x(side_md(p.columns_md, sides.columns_blocked), columns);
  run_backward_weights(p, gy, x, gw, stream);
  if (columns_grad)
    run_forward(p, gy, weights, nullptr, side_md(p.columns_md, sides.columns_blocked),
                columns_grad, stream);
}

}  // namespace steady::dnnl_conv
