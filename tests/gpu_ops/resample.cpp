// kernels/resample.cu against kernels/resample.cpp: max pool (with ties), nearest upsampling,
// bilinear resize down and up, concat and slice; forward and backward.
#include <string>

#include "gpu_check.h"

using namespace steady;
using namespace gpu_check;

namespace {

std::string str(const Shape& s) { return shape_str(s); }

// Values from {0, 0.5, 1}: most windows hold ties, so "the first maximum wins" is exercised.
Tensor tied_input(const Shape& shape) {
  Tensor x = random_cpu(shape, 0.0, 3.0);
  float* p = x.data<float>();
  for (int64_t i = 0; i < x.numel(); ++i) p[i] = static_cast<float>(static_cast<int>(p[i])) * 0.5f;
  return x;
}

}  // namespace

TEST_CASE("gpu resample: max_pool2d forward and backward, random and tied inputs") {
  GpuCase gpu_case;
  struct Case {
    Shape x;
    int k, s;
  };
  const Case cases[] = {{{1, 1, 2, 2}, 2, 2},   {{2, 3, 8, 8}, 2, 2},  {{2, 4, 9, 7}, 3, 2},
                        {{1, 5, 10, 11}, 3, 1}, {{3, 2, 13, 9}, 2, 3}, {{2, 16, 64, 64}, 2, 2}};
  for (const Case& c : cases) {
    for (bool tied : {false, true}) {
      const std::string what = "max_pool2d k" + std::to_string(c.k) + " s" + std::to_string(c.s) +
                               " " + str(c.x) + (tied ? " tied" : "");
      const Tensor x = tied ? tied_input(c.x) : random_cpu(c.x);
      const Tensor xg = to_gpu(x);
      const Tensor want = cpu().max_pool2d(x, c.k, c.s);
      poison_cache(want.shape());
      check_same_bits(gpu().max_pool2d(xg, c.k, c.s), want, what);
      const Tensor gy = random_cpu(want.shape());
      poison_cache(c.x);
      check_close(gpu().max_pool2d_backward(xg, to_gpu(gy), c.k, c.s),
                  cpu().max_pool2d_backward(x, gy, c.k, c.s), kFloat32Rounding, what + " backward");
    }
  }
}

TEST_CASE("gpu resample: upsample_nearest2d forward and backward") {
  GpuCase gpu_case;
  const Shape shapes[] = {{1, 1, 1, 1}, {2, 3, 5, 7}, {2, 8, 16, 16}};
  for (const Shape& s : shapes) {
    for (int f : {1, 2, 3}) {
      const std::string what = "upsample x" + std::to_string(f) + " " + str(s);
      const Tensor x = random_cpu(s);
      const Tensor want = cpu().upsample_nearest2d(x, f);
      poison_cache(want.shape());
      check_same_bits(gpu().upsample_nearest2d(to_gpu(x), f), want, what);
      const Tensor gy = random_cpu(want.shape());
      poison_cache(s);
      check_close(gpu().upsample_nearest2d_backward(to_gpu(gy), f),
                  cpu().upsample_nearest2d_backward(gy, f), kFloat32Rounding, what + " backward");
    }
  }
}

TEST_CASE("gpu resample: resize_bilinear down, up and mixed, forward and backward") {
  GpuCase gpu_case;
  struct Case {
    Shape x;
    int out_h, out_w;
  };
  const Case cases[] = {{{2, 3, 8, 8}, 16, 16},   {{2, 3, 16, 16}, 8, 8},  {{1, 2, 7, 9}, 16, 5},
                        {{1, 1, 5, 3}, 1, 1},     {{2, 2, 1, 1}, 4, 6},    {{1, 3, 33, 17}, 12, 40},
                        {{1, 1, 3, 4}, 31, 29},   {{2, 4, 64, 64}, 128, 128}};
  for (const Case& c : cases) {
    const std::string what = "resize_bilinear " + str(c.x) + " -> " + std::to_string(c.out_h) +
                             "x" + std::to_string(c.out_w);
    const Tensor x = random_cpu(c.x);
    const Tensor want = cpu().resize_bilinear(x, c.out_h, c.out_w);
    poison_cache(want.shape());
    check_close(gpu().resize_bilinear(to_gpu(x), c.out_h, c.out_w), want, kFloat32Rounding, what);
    const Tensor gy = random_cpu(want.shape());
    const int in_h = static_cast<int>(c.x[2]), in_w = static_cast<int>(c.x[3]);
    poison_cache(c.x);
    check_close(gpu().resize_bilinear_backward(to_gpu(gy), in_h, in_w),
                cpu().resize_bilinear_backward(gy, in_h, in_w), kFloat32Rounding, what + " backward");
  }
}

TEST_CASE("gpu resample: concat_channels and slice_channels") {
  GpuCase gpu_case;
  const std::vector<Shape> parts = {{2, 3, 5, 7}, {2, 1, 5, 7}, {2, 4, 5, 7}, {2, 0, 5, 7}};
  std::vector<Tensor> xs, xgs;
  for (const Shape& s : parts) {
    xs.push_back(random_cpu(s));
    xgs.push_back(to_gpu(xs.back()));
  }
  const Tensor want = cpu().concat_channels(xs);
  poison_cache(want.shape());
  const Tensor got = gpu().concat_channels(xgs);
  check_same_bits(got, want, "concat_channels");
  for (auto [b, e] : {std::pair<int64_t, int64_t>{0, 8}, {0, 3}, {3, 4}, {2, 7}, {8, 8}}) {
    const std::string what = "slice_channels [" + std::to_string(b) + ", " + std::to_string(e) + ")";
    poison_cache(Shape{2, e - b, 5, 7});
    check_same_bits(gpu().slice_channels(got, b, e), cpu().slice_channels(want, b, e), what);
  }
  // [N, C] tensors (no spatial dimensions) work too.
  const Tensor a = random_cpu({3, 2}), b = random_cpu({3, 5});
  check_close(gpu().concat_channels({to_gpu(a), to_gpu(b)}), cpu().concat_channels({a, b}), kFloat32Rounding,
              "concat_channels of [N, C]");
  CHECK_THROWS_WITH_AS(gpu().concat_channels({to_gpu(a), to_gpu(random_cpu({4, 5}))}),
                       doctest::Contains("concat_channels"), Error);
}
