#include "losses/regularizers.h"

#include "losses/transform.h"

namespace steady {

const char* reg_mode_name(RegMode m) {
  switch (m) {
    case RegMode::None: return "none";
    case RegMode::Augment: return "augment";
    case RegMode::StabilityNoise: return "stability-noise";
    case RegMode::Stability: return "stability";
    case RegMode::TransInv: return "trans-inv";
    case RegMode::Jacobian: return "jacobian";
  }
  return "?";
}

namespace {

// [B,C,H,W] + [B,C,H,W] -> [2B,C,H,W]: contiguous NCHW batches stacked along N are one memory
// concatenation, which concat_channels does on [1, B*C, H, W] views.
Tensor stack_batches(const Tensor& a, const Tensor& b) {
  const Shape& s = a.shape();
  Shape flat{1, s[0] * s[1], s[2], s[3]};
  return backend_of(a).concat_channels({a.reshape(flat), b.reshape(flat)}).reshape(
      {2 * s[0], s[1], s[2], s[3]});
}

// The first or second half of a [2B,C,H,W] batch: views, differentiably.
Var batch_half(const Var& v, int half) {
  const int64_t b = v.shape()[0] / 2;
  return slice_batch(v, half * b, (half + 1) * b);
}

// The same loss from plain ops: the reference the fused kernel is tested against.
Var composed_reg_loss(RegKind kind, const Var& fx, const Var& ftx, const Tensor& y,
                      const Tensor& matrix, const Tensor& mask) {
  const Shape& s = fx.shape();
  Tensor m = mask.defined() ? mask : Tensor::full({s[0], 1, s[2], s[3]}, 1.0, fx.device(), fx.value().dtype());
  Var d;
  switch (kind) {
    case RegKind::Stability: d = sub(fx, ftx); break;
    case RegKind::TransInv: d = sub(ftx, warp_affine(fx, matrix)); break;
    case RegKind::Jacobian:
      d = sub(sub(ftx, Var(warp_affine(y, matrix))), sub(fx, Var(y)));
      break;
    case RegKind::Augment: d = sub(ftx, Var(warp_affine(y, matrix))); break;
  }
  double denom = std::max(1.0, static_cast<double>(s[1]) * sum(m).item());
  return scale(sum(mul_channels(mul(d, d), m)), 1.0 / denom);
}

}  // namespace

Var masked_mse(const Var& prediction, const Tensor& target, const Tensor& mask) {
  return reg_loss(RegKind::Stability, prediction, Var(target), target, Tensor(), mask);
}

void draw_step(const RegConfig& config, const Shape& x_shape, Device device, DType dtype, Rng& rng,
               StepDraws& into, int64_t first_row, int64_t rows) {
  const int64_t B = x_shape[0], H = x_shape[2], W = x_shape[3];
  if (rows < 0) rows = B - first_row;
  STEADY_CHECK(first_row >= 0 && first_row + rows <= B, "draw_step: rows [", first_row, ", ",
               first_row + rows, ") of a batch of ", B);
  auto store = [&](Tensor& dst, const Tensor& whole) {
    Shape shape = whole.shape();
    shape[0] = rows;
    const Tensor host = whole.view(first_row * (whole.numel() / B), shape);
    if (dst.defined() && dst.shape() == host.shape() && dst.dtype() == host.dtype() &&
        dst.device() == device) {
      dst.copy_from(host);
    } else {
      dst = host.to(device);
    }
  };
  switch (config.mode) {
    case RegMode::None:
      return;
    case RegMode::StabilityNoise: {
      // x + N(0, sigma^2), sigma ~ U(0.01, 0.04) per image.
      std::vector<double> noise(static_cast<size_t>(shape_numel(x_shape)));
      const int64_t per = shape_numel(x_shape) / B;
      for (int64_t i = 0; i < B; ++i) {
        const double sigma = rng.uniform(0.01, 0.04);
        for (int64_t k = 0; k < per; ++k) noise[i * per + k] = sigma * rng.normal();
      }
      store(into.noise, Tensor::from_vector(noise, x_shape, Device::CPU, dtype));
      return;
    }
    default:
      // The matrix in x's dtype, so a float64 run (gradient checks) stays float64 throughout.
      store(into.matrices, random_transform_matrices(B, H, W, config.transform_scale, rng,
                                                     Device::CPU, dtype));
  }
}

RegularizedLoss regularized_loss(const RegConfig& config, const Var& x, const Tensor& y,
                                 const Tensor& mask, const Network& net,
                                 const ReconstructionLoss& rec, Rng& rng) {
  StepDraws draws;
  draw_step(config, x.shape(), x.device(), x.value().dtype(), rng, draws);
  return regularized_loss(config, x, y, mask, net, rec, draws);
}

RegularizedLoss regularized_loss(const RegConfig& config, const Var& x, const Tensor& y,
                                 const Tensor& mask, const Network& net,
                                 const ReconstructionLoss& rec, const StepDraws& draws) {
  RegularizedLoss out;
  if (config.mode == RegMode::None) {
    out.total = rec(net(x));
    out.rec = out.total.value();
    out.reg = Tensor::zeros({1}, out.rec.device(), out.rec.dtype());
    return out;
  }
  const Tensor& xv = x.value();
  Backend& be = backend_of(xv);
  const int64_t B = xv.size(0), H = xv.size(2), W = xv.size(3);
  Tensor partner, matrix, reg_mask = mask;
  RegKind kind = RegKind::Stability;
  if (config.mode == RegMode::StabilityNoise) {
    STEADY_CHECK(draws.noise.defined() && draws.noise.shape() == xv.shape(),
                 "regularized_loss: stability-noise needs noise of x's shape ", xv.str());
    partner = add(xv, draws.noise);
  } else {
    STEADY_CHECK(draws.matrices.defined() && draws.matrices.shape() == Shape({B, 6}),
                 "regularized_loss: ", reg_mode_name(config.mode), " needs [", B,
                 ", 6] transform matrices");
    matrix = draws.matrices;
    partner = warp_affine(xv, matrix);
    Tensor valid = be.warp_valid_mask(matrix, B, H, W);
    switch (config.mode) {
      case RegMode::Stability:
        kind = RegKind::Stability;
        break;
      case RegMode::TransInv:
      case RegMode::Augment:
        kind = config.mode == RegMode::TransInv ? RegKind::TransInv : RegKind::Augment;
        if (mask.defined()) reg_mask = warp_affine(mask, matrix);
        break;
      default:
        kind = RegKind::Jacobian;
        if (mask.defined()) reg_mask = maximum(mask, warp_affine(mask, matrix));
        break;
    }
    reg_mask = reg_mask.defined() ? mul(reg_mask, valid) : valid;
  }
  // The siamese pass: x and its partner as one batch of 2B.
  Var both = net(Var(stack_batches(xv, partner)));
  Var fx = batch_half(both, 0), fpartner = batch_half(both, 1);
  Var l_rec = rec(fx);
  Var l_reg = config.fused ? reg_loss(kind, fx, fpartner, y, matrix, reg_mask)
                           : composed_reg_loss(kind, fx, fpartner, y, matrix, reg_mask);
  out.total = add(scale(l_rec, 1.0 - config.alpha), scale(l_reg, config.alpha));
  out.rec = l_rec.value();
  out.reg = l_reg.value();
  return out;
}

double transform_equivariance_error(const Tensor& x, const Tensor& fx, const Tensor& mask,
                                    const Network& net, double transform_scale, Rng& rng) {
  Backend& be = backend_of(x);
  const int64_t B = x.size(0), H = x.size(2), W = x.size(3);
  const Tensor matrix = random_transform_matrices(B, H, W, transform_scale, rng, x.device(), x.dtype());
  const Tensor ftx = net(Var(warp_affine(x, matrix))).value();
  Tensor counted = be.warp_valid_mask(matrix, B, H, W);
  if (mask.defined()) counted = mul(warp_affine(mask, matrix), counted);
  return be.reg_loss(RegKind::TransInv, fx, ftx, fx, matrix, counted).loss.item();
}

}  // namespace steady
