// The paper's two autoencoders: parameter counts (Table 2) and forward/backward shapes.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include "engine/layout.h"
#include "models/color_autoencoder.h"
#include "models/hdr_autoencoder.h"

using namespace steady;

TEST_CASE("models: colorization autoencoder has 1,568,690 parameters (Table 2 less the output batch norm)") {
  ColorAutoencoder m;
  CHECK(m.parameter_count() == 1568690);
  CHECK(m.summary().find("parameters: 1568690") != std::string::npos);
}

TEST_CASE("models: colorization output is linear in conv62, also in training mode") {
  // With a batch norm after conv62 (the design defect fixed in issue 14), scaling conv62 would
  // not change the training-mode output at all: that norm pinned each ab channel's spread.
  Rng rng(5);
  ColorAutoencoder m;
  m.finalize(Device::CPU, rng);
  std::vector<float> xv(4 * 32 * 32);
  for (float& v : xv) v = static_cast<float>(rng.uniform() * 2 - 1);
  Var x(Tensor::from_vector(xv, {4, 1, 32, 32}));
  const std::vector<double> y1 = m.forward(x, true).value().to_host();
  float* values = m.params().values.data<float>();  // the views read this buffer
  int scaled = 0;
  for (const ParamEntry& e : m.params().params())
    if (e.name.rfind("conv62", 0) == 0 && e.name.find("_bn") == std::string::npos) {
      int64_t n = 1;
      for (int64_t d : e.shape) n *= d;
      for (int64_t i = 0; i < n; ++i) values[e.offset + i] *= 0.1f;
      ++scaled;
    }
  REQUIRE(scaled == 2);  // weight and bias
  for (const ParamEntry& e : m.params().params()) CHECK(e.name.find("conv62_bn") == std::string::npos);
  const std::vector<double> y2 = m.forward(x, true).value().to_host();
  double max_err = 0, max_y = 0;
  for (size_t i = 0; i < y1.size(); ++i) {
    max_err = std::max(max_err, std::abs(y2[i] - 0.1 * y1[i]));
    max_y = std::max(max_y, std::abs(y1[i]));
  }
  CHECK(max_y > 0);
  CHECK(max_err <= 1e-5 * max_y + 1e-7);
}

TEST_CASE("models: HDR autoencoder is within 5% of Table 2's 1,289,653 parameters") {
  HdrAutoencoder m;
  double ratio = static_cast<double>(m.parameter_count()) / 1289653.0;
  INFO("count ", m.parameter_count());
  CHECK(std::abs(ratio - 1.0) < 0.05);
}

TEST_CASE("models: forward and backward shapes on a small batch") {
  Rng rng(3);
  for (std::string task : {"hdr", "color"}) {
    CAPTURE(task);
    auto model = make_model(task);
    model->finalize(Device::CPU, rng);
    int c = model->in_channels();
    std::vector<float> xv(2 * c * 32 * 32);
    for (float& v : xv) v = static_cast<float>(rng.uniform());
    Var x(Tensor::from_vector(xv, {2, c, 32, 32}));
    Var y = model->forward(x, true);
    CHECK(y.shape() == Shape{2, model->out_channels(), 32, 32});
    backward(mean(mul(y, y)));
    std::vector<double> g = model->params().grads.to_host();
    double norm = 0;
    for (double v : g) {
      REQUIRE(std::isfinite(v));
      norm += v * v;
    }
    CHECK(norm > 0);
  }
}

TEST_CASE("models: blocked activations (engine/layout.h) train like plain ones") {
  // The same forward and backward with the layout switched off: outputs equal to rounding (batch
  // norm sums in its own order per layout) and so are the gradients of every parameter.
  for (std::string task : {"hdr", "color"}) {
    CAPTURE(task);
    std::vector<double> out[2], grads[2];
    for (int blocked_on = 0; blocked_on < 2; ++blocked_on) {
      set_blocked_layout(blocked_on == 1);
      Rng rng(7);
      auto model = make_model(task);
      model->finalize(Device::CPU, rng);
      const int c = model->in_channels();
      std::vector<float> xv(4 * c * 32 * 32);
      for (float& v : xv) v = static_cast<float>(rng.uniform());
      Var y = model->forward(Var(Tensor::from_vector(xv, {4, c, 32, 32})), true);
      backward(mean(mul(y, y)));
      out[blocked_on] = y.value().to_host();
      grads[blocked_on] = model->params().grads.to_host();
    }
    set_blocked_layout(true);
    for (auto* pair : {out, grads}) {
      double worst = 0, scale = 0;
      for (size_t i = 0; i < pair[0].size(); ++i) {
        worst = std::max(worst, std::fabs(pair[0][i] - pair[1][i]));
        scale = std::max(scale, std::fabs(pair[0][i]));
      }
      CHECK(scale > 0);
      CHECK(worst <= 1e-5 * scale);
      MESSAGE(task, ": largest difference ", worst, " of ", scale);
    }
  }
}

TEST_CASE("models: HDR output equals the linearized input where nothing saturates") {
  Rng rng(4);
  HdrAutoencoder m;
  m.finalize(Device::CPU, rng);
  std::vector<float> xv(3 * 16 * 16);
  for (float& v : xv) v = static_cast<float>(rng.uniform(0.05, 0.9));  // below tau everywhere
  Tensor x = Tensor::from_vector(xv, {1, 3, 16, 16});
  NoGradGuard no_grad;
  std::vector<double> y = m.forward(Var(x), false).value().to_host();
  double worst = 0;
  for (size_t i = 0; i < xv.size(); ++i)
    worst = std::max(worst, std::abs(y[i] - std::log(double(xv[i]) * xv[i] + HdrAutoencoder::kLogEps)));
  CHECK(worst < 1e-5);
}

TEST_CASE("models: unknown task is a clear error") {
  CHECK_THROWS_WITH_AS(make_model("segmentation"), doctest::Contains("unknown model task"), Error);
}
