// "layout: ..." cases: the blocked activation layout (engine/layout.h). Its conversion puts each
// element where nChw16c says; every op that reads blocked tensors gives the values of its plain
// run (bit for bit where it adds nothing or adds in the same order, to rounding where its sums
// run in an order of their own); the layout reaches no op that cannot read it.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "engine/backend.h"
#include "engine/layout.h"
#include "engine/ops.h"
#include "engine/rng.h"

using namespace steady;

namespace {

Tensor random_f32(const Shape& shape, Rng& rng) {
  std::vector<float> v(static_cast<size_t>(shape_numel(shape)));
  for (float& x : v) x = static_cast<float>(rng.uniform(-1.0, 1.0));
  return Tensor::from_vector(v, shape);
}

Tensor blocked(const Tensor& t) { return relayout(t, Layout::Blocked16); }

// Same logical values; rel = 0 asks for equality.
void check_same(const Tensor& got, const Tensor& want, double rel = 0.0) {
  REQUIRE(got.shape() == want.shape());
  const std::vector<double> g = got.to_host(), w = want.to_host();
  double worst = 0.0;
  for (size_t i = 0; i < g.size(); ++i) {
    if (rel == 0.0) {
      if (g[i] != w[i]) {
        CAPTURE(i);
        CHECK(g[i] == w[i]);
        return;
      }
    } else {
      worst = std::max(worst, std::fabs(g[i] - w[i]) / (std::fabs(w[i]) + 1e-3));
    }
  }
  CHECK(worst <= rel);
}

}  // namespace

TEST_CASE("layout: relayout places each element where nChw16c says, and round-trips") {
  Rng rng(1);
  const int64_t n = 2, c = 32, h = 3, w = 5;
  Tensor x = random_f32({n, c, h, w}, rng);
  Tensor xb = blocked(x);
  CHECK(xb.blocked());
  CHECK(xb.shape() == x.shape());
  const float* pb = xb.data_any_layout<float>();
  const float* p = x.data<float>();
  for (int64_t i = 0; i < n; ++i)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t q = 0; q < h * w; ++q)
        REQUIRE(pb[((i * (c / 16) + ch / 16) * h * w + q) * 16 + ch % 16] ==
                p[(i * c + ch) * h * w + q]);
  check_same(plain(xb), x);
  CHECK(plain(xb).blocked() == false);
  CHECK(xb.to_host() == x.to_host());  // to_host reads any layout in NCHW order
  // Whole samples are views of a blocked tensor; anything else is refused, as is plain access.
  check_same(xb.view(c * h * w, {1, c, h, w}), x.view(c * h * w, {1, c, h, w}));
  CHECK_THROWS_AS(xb.data<float>(), Error);
  CHECK_THROWS_AS(xb.reshape({n, c * h * w}), Error);
  CHECK_THROWS_AS(xb.view(16, {1, c, h, w}), Error);
  CHECK_THROWS_AS(xb.to(DType::F64), Error);
  CHECK_THROWS_AS(relayout(random_f32({1, 8, 2, 2}, rng), Layout::Blocked16), Error);
  CHECK_THROWS_AS(cpu_backend().resize_bilinear(xb, 4, 4), Error);  // an op without the layout
}

TEST_CASE("layout: the ops that read blocked tensors give their plain values") {
  Backend& be = cpu_backend();
  Rng rng(2);
  const Shape s{2, 32, 6, 7};
  Tensor x = random_f32(s, rng), y = random_f32(s, rng), gy = random_f32(s, rng);
  Tensor xb = blocked(x), yb = blocked(y), gyb = blocked(gy);

  // Elementwise: the same bits, in the input's layout.
  for (UnaryOp op : {UnaryOp::Relu, UnaryOp::LeakyRelu}) {
    Tensor out = be.unary(op, xb, 0.2f);
    CHECK(out.blocked());
    check_same(out, be.unary(op, x, 0.2f));
    check_same(be.unary_backward(op, xb, Tensor(), gyb, 0.2f),
               be.unary_backward(op, x, Tensor(), gy, 0.2f));
  }
  check_same(be.binary(BinaryOp::Add, xb, yb), be.binary(BinaryOp::Add, x, y));
  CHECK_THROWS_AS(be.binary(BinaryOp::Add, xb, y), Error);  // mixed layouts are refused
  Tensor acc = xb.clone(), acc_plain = x.clone();
  be.accumulate(acc, yb, 1.0);
  be.accumulate(acc_plain, y, 1.0);
  check_same(acc, acc_plain);

  // Pooling (the 2x2 path and the general one, odd sizes) and upsampling: the same bits.
  for (auto [k, st] : {std::pair{2, 2}, std::pair{3, 1}}) {
    CAPTURE(k);
    Tensor pooled = be.max_pool2d(xb, k, st);
    CHECK(pooled.blocked());
    check_same(pooled, be.max_pool2d(x, k, st));
    Tensor gp = random_f32(pooled.shape(), rng);
    check_same(be.max_pool2d_backward(xb, blocked(gp), k, st), be.max_pool2d_backward(x, gp, k, st));
  }
  check_same(be.upsample_nearest2d(xb, 2), be.upsample_nearest2d(x, 2));
  Tensor gu = random_f32({2, 32, 12, 14}, rng);
  check_same(be.upsample_nearest2d_backward(blocked(gu), 2), be.upsample_nearest2d_backward(gu, 2));

  // Concatenation and slices: blocked on whole blocks, plain otherwise.
  Tensor cat = be.concat_channels({xb, yb});
  CHECK(cat.blocked());
  check_same(cat, be.concat_channels({x, y}));
  Tensor mixed = be.concat_channels({xb, random_f32({2, 3, 6, 7}, rng)});
  CHECK_FALSE(mixed.blocked());
  CHECK(be.slice_channels(cat, 16, 48).blocked());
  check_same(be.slice_channels(cat, 16, 48), be.slice_channels(be.concat_channels({x, y}), 16, 48));
  CHECK_FALSE(be.slice_channels(cat, 8, 24).blocked());
  CHECK(be.slice_channels(cat, 16, 16).numel() == 0);  // empty: plain, no zero-size block
  check_same(be.slice_channels(cat, 8, 24), be.slice_channels(be.concat_channels({x, y}), 8, 24));

  // Batch norm: the same formulas, its sums in another order: equal to rounding.
  Tensor gamma = random_f32({32}, rng), beta = random_f32({32}, rng);
  Tensor rm = Tensor::zeros({32}), rv = Tensor::full({32}, 1.0);
  Tensor rmb = rm.clone(), rvb = rv.clone();
  BatchNormSaved saved, savedb;
  Tensor bn = be.batch_norm_train(x, gamma, beta, rm, rv, 0.1f, 1e-5f, saved);
  Tensor bnb = be.batch_norm_train(xb, gamma, beta, rmb, rvb, 0.1f, 1e-5f, savedb);
  CHECK(bnb.blocked());
  check_same(bnb, bn, 1e-6);
  check_same(rmb, rm, 1e-6);
  check_same(rvb, rv, 1e-6);
  check_same(be.batch_norm_eval(xb, gamma, beta, rm, rv, 1e-5f),
             be.batch_norm_eval(x, gamma, beta, rm, rv, 1e-5f));
  Tensor gg, gb, ggb, gbb;
  check_same(be.batch_norm_backward(xb, gamma, savedb, gyb, ggb, gbb),
             be.batch_norm_backward(x, gamma, saved, gy, gg, gb), 1e-5);
  check_same(ggb, gg, 1e-6);
  check_same(gbb, gb, 1e-6);
}

TEST_CASE("layout: convolutions read and write the blocked layout directly") {
  Backend& be = cpu_backend();
  Rng rng(3);
  Tensor x = random_f32({2, 16, 8, 8}, rng), w = random_f32({32, 16, 3, 3}, rng),
         b = random_f32({32}, rng);
  Tensor y = be.conv2d(x, w, b, {1, 1, 0});
  Tensor yb;
  {
    BlockedLayoutScope scope(x);
    yb = be.conv2d(blocked(x), w, b, {1, 1, 0});
    CHECK(yb.blocked());
    CHECK(be.conv2d(x, w, b, {1, 1, 0}).blocked());  // a plain input, a blocked output
    CHECK_FALSE(be.conv2d(x, random_f32({3, 16, 3, 3}, rng), Tensor(), {1, 1, 0}).blocked());
  }
  CHECK_FALSE(be.conv2d(x, w, b, {1, 1, 0}).blocked());  // outside a scope
  check_same(yb, y);
  Tensor gy = random_f32(y.shape(), rng);
  ConvGrads g = be.conv2d_backward(x, w, {true, true}, gy, {1, 1, 0});
  ConvGrads gb = be.conv2d_backward(blocked(x), w, {true, true}, blocked(gy), {1, 1, 0});
  CHECK(gb.grad_x.blocked());
  check_same(gb.grad_x, g.grad_x);
  check_same(gb.grad_w, g.grad_w);
  check_same(gb.grad_b, g.grad_b, 1e-6);

  // Transposed, with its bias added on the blocked output.
  Tensor wt = random_f32({32, 16, 4, 4}, rng), bt = random_f32({16}, rng);
  Tensor xt = random_f32({2, 32, 5, 5}, rng);
  Tensor yt = be.conv_transpose2d(xt, wt, bt, {2, 1, 0});
  Tensor ytb;
  {
    BlockedLayoutScope scope(xt);
    ytb = be.conv_transpose2d(blocked(xt), wt, bt, {2, 1, 0});
  }
  CHECK(ytb.blocked());
  check_same(ytb, yt);
  Tensor gyt = random_f32(yt.shape(), rng);
  ConvGrads gt = be.conv_transpose2d_backward(xt, wt, {true, true}, gyt, {2, 1, 0});
  ConvGrads gtb = be.conv_transpose2d_backward(blocked(xt), wt, {true, true}, blocked(gyt), {2, 1, 0});
  check_same(gtb.grad_x, gt.grad_x);
  check_same(gtb.grad_w, gt.grad_w);
  check_same(gtb.grad_b, gt.grad_b, 1e-6);
}

TEST_CASE("layout: the tape hands each value its gradient in its own layout") {
  Rng rng(4);
  Var x(random_f32({2, 3, 8, 8}, rng));
  Var w1(random_f32({16, 3, 3, 3}, rng), true), w2(random_f32({3, 19, 1, 1}, rng), true);
  auto run = [&](bool blocked_on) {
    set_blocked_layout(blocked_on);
    w1.grad() = Tensor();
    w2.grad() = Tensor();
    BlockedLayoutScope scope(x.value());
    Var h = relu(conv2d(x, w1, Var(), 1, 1));
    CHECK(h.value().blocked() == blocked_on);
    Var both = concat_channels({h, x});  // mixed: plain
    CHECK_FALSE(both.value().blocked());
    Var out = conv2d(both, w2, Var(), 1, 0);
    backward(mean(mul(out, out)));
    set_blocked_layout(true);
    return std::pair{w1.grad().clone(), w2.grad().clone()};
  };
  auto [g1b, g2b] = run(true);
  auto [g1, g2] = run(false);
  check_same(g1b, g1);
  check_same(g2b, g2);
}
