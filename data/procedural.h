// Procedural HDR content (the paper's Sec. 4, docs/DESIGN.md, "Data"): no download, reproducible
// from a seed, and with the true motion known.
//
// A scene is a static background (a two-colour gradient in log intensity with low-frequency
// noise) under 6-14 features composited front to back ("over"), each one of:
//   blob      an elliptical Gaussian glow with a whiter core: a light source, mostly very bright
//   sphere    a shaded disc (ambient + diffuse + a specular highlight that is often very bright)
//   stripes   a rectangle of soft-edged stripes (blinds with light between them)
//   gradient  a rounded rectangle whose intensity ramps over up to two decades (a lit wall, a sky)
//   texture   an ellipse of multi-octave value noise in log intensity (lit clouds, foliage)
//   beam      a long opaque bar (an occluder); in test sequences 0-2 of them sweep across
// Colours are HSV draws normalized to a max channel of 1, so a feature's intensity is its max
// channel. Intensities: ordinary content log-uniform in [0.1, 1], bright content in [2, 40],
// background [0.05, 0.4]. Every feature is defined in its own coordinates and moves rigidly
// (translation along a drift plus two sinusoids per axis, and a slow rotation), so the motion of
// every pixel is known exactly. Edges are anti-aliased analytically (no aliasing, sub-pixel
// motion is smooth). Sizes and speeds are fractions of the image size, so --size changes the
// resolution, not the content.
//
// Exposure: the whole image (or the whole sequence, pooled) is scaled so that a share s ~
// U(sat_min, sat_max) of its pixels have a max channel >= 1 (the clip point of the virtual
// camera at exposure 1), or as near as distinct pixel values allow within the range. Pixels
// whose max channel lands within 0.1% of 1 are nudged to 0.999 or 1.001, so writing half floats
// does not carry any pixel across the clip point.
//
// Motion, per test frame t >= 1, as flow [3,H,W] (see data/metrics.h): dx, dy such that pixel x
// of frame t shows what frame t-1 showed at x + d (the backward flow; d is the motion of the
// surface that contributes most of the pixel's radiance), and valid = 1 where one surface
// explains the pixel in both frames: it gives >= 98% of the radiance of pixel x in frame t and
// of every pixel of frame t-1 that bilinear sampling at x + d reads, and x + d is inside the
// image. Soft edges and bright glows over other surfaces, motion boundaries, occlusions and
// disocclusions are 0. Frame 0's flow is all zero with valid 0. Internal detail (stripe edges,
// noise octaves, highlights) is kept >= 2 pixels wide, so content is band-limited and bilinear
// warping with the true motion reproduces the next frame closely (tests/test_data.cpp checks it
// against altered motions).
//
// Determinism: image i of a seed depends only on (seed, i, options), not on how many images are
// made or in what order or how many threads; the same seed gives the same bytes.
//
// Panning a real HDR image (pan_sequence, gen_procedural --pan): a size x size window moves
// across the image along a smooth random path, sampled bilinearly at sub-pixel positions (frame
// pixel (x, y) is the image at (wx_t + x, wy_t + y) in pixel indices, (wx_t, wy_t) the window's
// corner). Per axis the corner is centre + a1 sin(2 pi f1 t + p1) + a2 sin(2 pi f2 t + p2) with
// a1 + a2 at most half the free range, so the window never leaves the image, and each term's
// peak speed 2 pi a f drawn in [0.3, 1.5] and [0.1, 0.8] pixels per frame (times size/128;
// frequencies capped at 0.02 cycles per frame). The scene is static, so the motion is one
// translation per frame: d_t = corner_t - corner_{t-1} for every pixel, valid where x + d lies
// inside the frame. The exposure is set as for procedural sequences (pooled over all frames).
#pragma once
#include <cstdint>
#include <vector>

#include "engine/tensor.h"

namespace steady {

struct ProceduralOptions {
  int size = 128;
  double sat_min = 0.01, sat_max = 0.10;  // share of pixels with max channel >= 1
  double beam_probability = 0.7;          // test sequences that have occluding beams
  // Speed of the test sequences' motion relative to the first generator (1): velocities and sway
  // amplitudes of features and beams (and the pan's speeds) are multiplied by it; the draws are
  // unchanged. 0.25 by default, slow enough that the temporal high-pass of the smoothness
  // measure (Eq. 9) leaves little of the true motion (docs/RESULTS.md, "Protocol").
  double motion_scale = 0.25;
};

// Training image `index` of `seed`: [3,size,size], static.
Tensor procedural_image(uint64_t seed, int64_t index, const ProceduralOptions& opt = {});

struct ProceduralSequence {
  std::vector<Tensor> frames;  // [3,size,size] each
  std::vector<Tensor> flow;    // [3,size,size] each (dx, dy, valid); flow[0] is all zero
  double target_share = 0;     // the drawn share s
  double saturated_share = 0;  // the share over all frames pooled (max channel >= 1)
  double scale = 0;            // the exposure scale applied to the rendered radiance
  int beams = 0;               // occluding beams in the sequence
  // pan_sequence only: the window's top-left corner per frame, in pixels of the source image.
  std::vector<double> window_x, window_y;
};

// Test sequence `index` of `seed`, `frames` frames long (>= 2).
ProceduralSequence procedural_sequence(uint64_t seed, int64_t index, int frames,
                                       const ProceduralOptions& opt = {});

// Test sequence `index` of `seed` panning an opt.size window across `image`, a linear HDR image
// [C,H,W] (C 1, 3 or 4: grey is repeated, alpha dropped) at least opt.size + 2 pixels wide and
// high. opt.beam_probability is not used.
ProceduralSequence pan_sequence(const Tensor& image, uint64_t seed, int64_t index, int frames,
                                const ProceduralOptions& opt = {});

// Checks the options, with messages that name the flag (--size, --sat-min, --sat-max).
void check_procedural_options(const ProceduralOptions& opt);

}  // namespace steady
