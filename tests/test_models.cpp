// The paper's two autoencoders: parameter counts (Table 2) and forward/backward shapes.
#include <doctest/doctest.h>

#include <cmath>

#include "models/color_autoencoder.h"
#include "models/hdr_autoencoder.h"

using namespace steady;

TEST_CASE("models: colorization autoencoder has Table 2's 1,568,698 parameters") {
  ColorAutoencoder m;
  CHECK(m.parameter_count() == 1568698);
  CHECK(m.summary().find("parameters: 1568698") != std::string::npos);
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
