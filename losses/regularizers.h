// The regularized training loss of the paper: L = (1 - alpha) L_rec + alpha L_reg, with L_reg one
// of the modes of docs/DESIGN.md, "Transforms and losses" (Eq. 2, 4, 5, 8 and the noise baseline). x and T(x) go
// through the network as one batch of 2B. With an HDR saturation mask m the L_reg terms count
// only where the rule says (m; T(m) for trans-inv and augment; max(m, T(m)) for jacobian), and
// always only where the warp sampled inside the image.
#pragma once
#include <functional>
#include <string>

#include "engine/ops.h"
#include "engine/rng.h"

namespace steady {

enum class RegMode { None, Augment, StabilityNoise, Stability, TransInv, Jacobian };
const char* reg_mode_name(RegMode m);  // "none", "augment", "stability-noise", ...

struct RegConfig {
  RegMode mode = RegMode::None;
  double alpha = 0.95;
  double transform_scale = 1.0;
  bool fused = true;  // false: the same loss composed from plain ops (the reference)
};

// The losses stay on the device: reading one (item()) waits for the step to finish, so the
// trainer reads them only at its log points.
struct RegularizedLoss {
  Var total;   // [1], what backward() starts from
  Tensor rec;  // L_rec [1]
  Tensor reg;  // L_reg [1] (zero for RegMode::None)
};

using Network = std::function<Var(const Var&)>;
// L_rec of a prediction for the batch's own targets (HDR and colorization differ).
using ReconstructionLoss = std::function<Var(const Var& prediction)>;

// sum(mask (prediction - target)^2) / max(1, C sum(mask)), mask [B,1,H,W] or undefined (the
// plain mean): the fused regularizer kernel with the target as the partner, one pass and no
// host synchronization. The gradient flows to prediction only.
Var masked_mse(const Var& prediction, const Tensor& target, const Tensor& mask);

// What one regularized step draws at random, made on the host and held in device tensors the
// step only reads: one transform per sample, or the stability-noise baseline's noise. Kept apart
// from the step so that a step captured into a CUDA graph replays with fresh draws copied into
// the same tensors before each launch (tools/lib/trainer.cpp).
struct StepDraws {
  Tensor matrices;  // [B,6] for the transform modes, else undefined
  Tensor noise;     // [B,C,H,W] for stability-noise, else undefined
};

// Draws for a batch of x_shape from rng (transforms: Table 1's ranges times transform_scale;
// noise: sigma ~ U(0.01, 0.04) per image) into `into`: written into its tensors when they are
// there (an asynchronous upload on CUDA), allocated on device in dtype otherwise.
// With rows >= 0, x_shape is the whole (data-parallel, global) batch and only its rows
// [first_row, first_row + rows) are kept: each rank keeps its shard of the one global draw.
void draw_step(const RegConfig& config, const Shape& x_shape, Device device, DType dtype, Rng& rng,
               StepDraws& into, int64_t first_row = 0, int64_t rows = -1);

// x [B,C,H,W] the input batch, y the target [B,Cout,H,W], mask [B,1,H,W] or undefined; the
// step's random draws from draw_step.
RegularizedLoss regularized_loss(const RegConfig& config, const Var& x, const Tensor& y,
                                 const Tensor& mask, const Network& net,
                                 const ReconstructionLoss& rec, const StepDraws& draws);
// The same, drawing from rng first.
RegularizedLoss regularized_loss(const RegConfig& config, const Var& x, const Tensor& y,
                                 const Tensor& mask, const Network& net,
                                 const ReconstructionLoss& rec, Rng& rng);

// The error the trans-inv regularizer optimizes, as a measure on held-out frames: one T per frame
// of x [B,C,H,W] (Table 1's ranges times transform_scale, from rng), net run on T(x), and
// ||f(T x) - T f(x)||^2 averaged over the elements counted as the trans-inv loss counts them (the
// warp's valid area, times T(mask) when a mask [B,1,H,W] is given). fx = net(x), already known.
double transform_equivariance_error(const Tensor& x, const Tensor& fx, const Tensor& mask,
                                    const Network& net, double transform_scale, Rng& rng);

}  // namespace steady
