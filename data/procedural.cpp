#include "data/procedural.h"

#include <algorithm>
#include <cmath>

#include "data/image_io.h"
#include "engine/rng.h"

namespace steady {
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kSingleSurface = 0.98;  // radiance share for "one surface explains it"

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// One independent stream per (seed, kind, index): kind 1 training images, 2 test sequences.
Rng item_rng(uint64_t seed, uint64_t kind, int64_t index) {
  uint64_t s = splitmix64(seed) ^ splitmix64((kind << 48) ^ static_cast<uint64_t>(index));
  return Rng(splitmix64(s));
}

double log_uniform(Rng& rng, double lo, double hi) {
  return std::exp(rng.uniform(std::log(lo), std::log(hi)));
}

double smoothstep(double e0, double e1, double x) {
  double t = std::clamp((x - e0) / (e1 - e0), 0.0, 1.0);
  return t * t * (3.0 - 2.0 * t);
}

// Coverage of a pixel by a shape, from the signed distance (pixels, negative inside) of its
// centre: a one-pixel linear ramp, i.e. box-filtered edges.
double coverage(double sd, double width = 1.0) { return std::clamp(0.5 - sd / width, 0.0, 1.0); }

// ------------------------------------------------------------------------ value noise (fbm)

double lattice(int64_t ix, int64_t iy, uint64_t seed) {
  uint64_t h = splitmix64(seed ^ splitmix64(static_cast<uint64_t>(ix) * 0x9E3779B1ull +
                                            static_cast<uint64_t>(iy) * 0x85EBCA77C2B2AE63ull));
  return static_cast<double>(h >> 11) * (1.0 / 9007199254740992.0);
}

double value_noise(double x, double y, uint64_t seed) {
  const double fx = std::floor(x), fy = std::floor(y);
  const int64_t ix = static_cast<int64_t>(fx), iy = static_cast<int64_t>(fy);
  const double tx = smoothstep(0, 1, x - fx), ty = smoothstep(0, 1, y - fy);
  const double a = lattice(ix, iy, seed), b = lattice(ix + 1, iy, seed);
  const double c = lattice(ix, iy + 1, seed), d = lattice(ix + 1, iy + 1, seed);
  return (a + (b - a) * tx) * (1 - ty) + (c + (d - c) * tx) * ty;
}

// Octaves of value noise whose finest lattice spacing stays >= 2.5 pixels, at most 4: finer
// detail would alias (a camera's image is band-limited) and could not be warped by bilinear
// sampling, which the warping error relies on.
int octaves_for(double scale_px) {
  int o = 1;
  while (o < 4 && scale_px / std::ldexp(1.0, o) >= 2.5) ++o;
  return o;
}

// In [0, 1], mean 0.5.
double fbm(double x, double y, uint64_t seed, int octaves) {
  double sum = 0, amp = 0.5, norm = 0;
  for (int o = 0; o < octaves; ++o) {
    sum += amp * value_noise(x, y, seed + static_cast<uint64_t>(o) * 7919);
    norm += amp;
    x = x * 2.03 + 17.1;
    y = y * 2.03 - 5.7;
    amp *= 0.5;
  }
  return sum / norm;
}

// ------------------------------------------------------------------------------- colours

struct Rgb {
  double r = 0, g = 0, b = 0;
};
Rgb operator*(const Rgb& c, double s) { return {c.r * s, c.g * s, c.b * s}; }
Rgb operator+(const Rgb& a, const Rgb& b) { return {a.r + b.r, a.g + b.g, a.b + b.b}; }
Rgb mix(const Rgb& a, const Rgb& b, double t) { return a * (1 - t) + b * t; }
const Rgb kWhite{1, 1, 1};

// HSV with value 1: max channel 1.
Rgb hue_color(double h, double s) {
  h = (h - std::floor(h)) * 6.0;
  const int i = static_cast<int>(h) % 6;
  const double f = h - std::floor(h);
  const double p = 1 - s, q = 1 - s * f, t = 1 - s * (1 - f);
  switch (i) {
    case 0: return {1, t, p};
    case 1: return {q, 1, p};
    case 2: return {p, 1, t};
    case 3: return {p, q, 1};
    case 4: return {t, p, 1};
    default: return {1, p, q};
  }
}

// ------------------------------------------------------------------------------- motion

// Rigid motion: centre = c + v t + sum_j A_j sin(2 pi f_j t + phi_j) per axis, angle likewise.
struct Path {
  double cx = 0, cy = 0, vx = 0, vy = 0;
  double ax[2] = {0, 0}, ay[2] = {0, 0}, fx[2] = {0, 0}, fy[2] = {0, 0}, px[2] = {0, 0},
         py[2] = {0, 0};
  double th0 = 0, om = 0, thb = 0, thf = 0, thp = 0;
};

struct Pose {
  double x, y, cos_t, sin_t;
  // world -> local
  void to_local(double wx, double wy, double& u, double& v) const {
    const double dx = wx - x, dy = wy - y;
    u = cos_t * dx + sin_t * dy;
    v = -sin_t * dx + cos_t * dy;
  }
  void to_world(double u, double v, double& wx, double& wy) const {
    wx = x + cos_t * u - sin_t * v;
    wy = y + sin_t * u + cos_t * v;
  }
};

Pose pose_at(const Path& p, double t) {
  double x = p.cx + p.vx * t, y = p.cy + p.vy * t;
  for (int j = 0; j < 2; ++j) {
    x += p.ax[j] * std::sin(2 * kPi * p.fx[j] * t + p.px[j]);
    y += p.ay[j] * std::sin(2 * kPi * p.fy[j] * t + p.py[j]);
  }
  const double th = p.th0 + p.om * t + p.thb * std::sin(2 * kPi * p.thf * t + p.thp);
  return {x, y, std::cos(th), std::sin(th)};
}

// A smooth wandering path for a feature; speeds in pixels per frame scale with the image.
Path wandering_path(Rng& rng, double size, double motion_scale) {
  Path p;
  p.cx = rng.uniform(-0.05, 1.05) * size;
  p.cy = rng.uniform(-0.05, 1.05) * size;
  const double drift = rng.uniform(0.0, 0.003) * size, dir = rng.uniform(0, 2 * kPi);
  p.vx = drift * std::cos(dir);
  p.vy = drift * std::sin(dir);
  for (int j = 0; j < 2; ++j) {
    p.ax[j] = rng.uniform(0.0, 0.08) * size;
    p.ay[j] = rng.uniform(0.0, 0.08) * size;
    p.fx[j] = rng.uniform(0.002, 0.02);  // cycles per frame: periods of 2-20 s at 25 fps
    p.fy[j] = rng.uniform(0.002, 0.02);
    p.px[j] = rng.uniform(0, 2 * kPi);
    p.py[j] = rng.uniform(0, 2 * kPi);
  }
  p.th0 = rng.uniform(0, 2 * kPi);
  p.om = rng.uniform(-0.01, 0.01);
  p.thb = rng.uniform(0.0, 0.3);
  p.thf = rng.uniform(0.002, 0.02);
  p.thp = rng.uniform(0, 2 * kPi);
  // Slower motion along the same path shape: velocities and sway amplitudes scale, the
  // frequencies (and every draw) stay, so motion_scale 1 is the generator as it was.
  p.vx *= motion_scale, p.vy *= motion_scale, p.om *= motion_scale, p.thb *= motion_scale;
  for (int j = 0; j < 2; ++j) p.ax[j] *= motion_scale, p.ay[j] *= motion_scale;
  return p;
}

// ------------------------------------------------------------------------------- layers

enum class Kind { Blob, Sphere, Stripes, Gradient, Texture, Beam };

struct Layer {
  Kind kind = Kind::Blob;
  Path path;
  double bound = 0;  // radius, in pixels, outside which alpha is 0
  double rx = 1, ry = 1, corner = 0;
  Rgb c1, c2;
  double i1 = 1, i2 = 1;
  double period = 1, phase = 0, duty = 0.5, edge = 2;  // stripes: pixels, fraction, pixels
  double lx = 0, ly = 0, lz = 1, hx = 0, hy = 0, hz = 1;  // sphere light and half vector
  double ambient = 0.1, spec = 0, shininess = 20;
  double noise_scale = 1, contrast = 1;  // texture, beam
  int octaves = 1;
  uint64_t noise_seed = 0;

  double alpha(double u, double v) const {
    switch (kind) {
      case Kind::Blob: {
        const double q = (u * u) / (rx * rx) + (v * v) / (ry * ry);
        if (q >= 25.0) return 0.0;
        const double w = 1.0 - q / 25.0;  // fades the tail to exactly 0 at 5 sigma
        return std::exp(-0.5 * q) * w * w;
      }
      case Kind::Sphere: return coverage(std::sqrt(u * u + v * v) - rx);
      case Kind::Texture: {
        const double r = std::sqrt((u * u) / (rx * rx) + (v * v) / (ry * ry));
        return coverage((r - 1.0) * std::min(rx, ry), 2.0);
      }
      default: {  // rounded box
        const double dx = std::abs(u) - (rx - corner), dy = std::abs(v) - (ry - corner);
        const double ox = std::max(dx, 0.0), oy = std::max(dy, 0.0);
        const double sd = std::sqrt(ox * ox + oy * oy) + std::min(std::max(dx, dy), 0.0) - corner;
        return coverage(sd);
      }
    }
  }

  Rgb color(double u, double v) const {
    switch (kind) {
      case Kind::Blob: {
        const double q = (u * u) / (rx * rx) + (v * v) / (ry * ry);
        const double core = std::exp(-2.0 * q);
        return mix(c1, kWhite, 0.7 * core) * (i1 * (1.0 + 2.0 * core));
      }
      case Kind::Sphere: {
        const double nx = u / rx, ny = v / rx;
        const double nz = std::sqrt(std::max(0.0, 1.0 - nx * nx - ny * ny));
        const double diffuse = std::max(0.0, nx * lx + ny * ly + nz * lz);
        const double hl = std::pow(std::max(0.0, nx * hx + ny * hy + nz * hz), shininess);
        return c1 * (i1 * (ambient + (1.0 - ambient) * diffuse)) + mix(c1, kWhite, 0.8) * (spec * hl);
      }
      case Kind::Stripes: {
        // Signed distance (pixels) to the nearest edge of the bright stripe [0, duty) of each
        // period, blurred over `edge` pixels: sharp-looking, yet band-limited.
        const double p = u / period + phase;
        const double x = (p - std::floor(p)) * period, on = duty * period;
        const double sd = x < on ? std::min(x, on - x) : -std::min(x - on, period - x);
        const double s = smoothstep(-0.5 * edge, 0.5 * edge, sd);
        return mix(c1 * i1, c2 * i2, s);
      }
      case Kind::Gradient: {
        const double t = std::clamp(0.5 + u / (2.0 * rx), 0.0, 1.0);
        const double inten = std::exp(std::log(i1) + (std::log(i2) - std::log(i1)) * t);
        return mix(c1, c2, t) * inten;
      }
      case Kind::Texture: {
        const double n = fbm(u / noise_scale, v / noise_scale, noise_seed, octaves);
        return mix(c1, c2, n) * (i1 * std::exp(contrast * 2.0 * (n - 0.5)));
      }
      case Kind::Beam: {
        const double n = fbm(u / noise_scale, 0.37, noise_seed, octaves);
        return c1 * (i1 * (0.75 + 0.5 * n));
      }
    }
    return {};
  }
};

struct Background {
  Rgb c1, c2;
  double i1 = 0.1, i2 = 0.1, dx = 1, dy = 0, noise_scale = 32, contrast = 0.5;
  int octaves = 1;
  uint64_t seed = 0;
  Rgb color(double x, double y, double size) const {
    const double t = std::clamp(0.5 + ((x / size - 0.5) * dx + (y / size - 0.5) * dy), 0.0, 1.0);
    const double n = fbm(x / noise_scale, y / noise_scale, seed, octaves);
    const double inten = std::exp(std::log(i1) + (std::log(i2) - std::log(i1)) * t +
                                  contrast * 2.0 * (n - 0.5));
    return mix(c1, c2, t) * inten;
  }
};

struct Scene {
  int size = 128;
  Background bg;
  std::vector<Layer> layers;  // back to front
  int beams = 0;
};

Rgb random_color(Rng& rng, double sat_lo, double sat_hi) {
  const double h = rng.uniform();
  const double s = rng.uniform(sat_lo, sat_hi);
  return hue_color(h, s);
}

double ordinary(Rng& rng) { return log_uniform(rng, 0.1, 1.0); }
double bright(Rng& rng) { return log_uniform(rng, 2.0, 40.0); }

Layer make_feature(Rng& rng, Kind kind, double size, bool force_bright, double motion_scale) {
  Layer l;
  l.kind = kind;
  l.path = wandering_path(rng, size, motion_scale);
  switch (kind) {
    case Kind::Blob: {
      l.rx = std::max(1.5, rng.uniform(0.015, 0.06) * size);
      l.ry = l.rx * rng.uniform(0.6, 1.0);
      l.c1 = random_color(rng, 0.0, 0.4);
      l.i1 = (force_bright || rng.uniform() < 0.8) ? bright(rng) : 2.0 * ordinary(rng);
      l.bound = 5.0 * std::max(l.rx, l.ry) + 1.0;
      break;
    }
    case Kind::Sphere: {
      l.rx = l.ry = rng.uniform(0.05, 0.18) * size;
      l.c1 = random_color(rng, 0.2, 0.9);
      l.i1 = ordinary(rng);
      l.ambient = rng.uniform(0.05, 0.3);
      const double az = rng.uniform(0, 2 * kPi), el = rng.uniform(0.3, 1.3);
      l.lx = std::cos(el) * std::cos(az);
      l.ly = std::cos(el) * std::sin(az);
      l.lz = std::sin(el);
      const double hn = std::sqrt(l.lx * l.lx + l.ly * l.ly + (l.lz + 1) * (l.lz + 1));
      l.hx = l.lx / hn, l.hy = l.ly / hn, l.hz = (l.lz + 1) / hn;
      // The highlight falls off about as exp(-r^2 / (2 sigma^2)) with sigma = radius /
      // sqrt(shininess) pixels; keep sigma >= 2 so it stays smooth at the pixel scale.
      l.shininess = std::min(rng.uniform(10.0, 80.0), (l.rx / 2.0) * (l.rx / 2.0));
      l.spec = (force_bright || rng.uniform() < 0.7) ? bright(rng) : 0.5 * ordinary(rng);
      l.bound = l.rx + 1.0;
      break;
    }
    case Kind::Stripes: {
      l.rx = rng.uniform(0.08, 0.25) * size;
      l.ry = rng.uniform(0.08, 0.25) * size;
      l.corner = rng.uniform(0.0, 0.3) * std::min(l.rx, l.ry);
      l.edge = rng.uniform(2.0, 4.0);
      l.period = std::max(3.0 * l.edge, rng.uniform(0.03, 0.08) * size);
      l.phase = rng.uniform();
      l.duty = rng.uniform(0.3, 0.7);
      l.c1 = random_color(rng, 0.2, 0.8);
      l.c2 = random_color(rng, 0.0, 0.3);
      l.i1 = 0.5 * ordinary(rng);
      l.i2 = (force_bright || rng.uniform() < 0.4) ? bright(rng) : ordinary(rng);
      l.bound = std::sqrt(l.rx * l.rx + l.ry * l.ry) + 1.0;
      break;
    }
    case Kind::Gradient: {
      l.rx = rng.uniform(0.08, 0.3) * size;
      l.ry = rng.uniform(0.06, 0.2) * size;
      l.corner = rng.uniform(0.1, 0.5) * std::min(l.rx, l.ry);
      l.c1 = random_color(rng, 0.2, 0.9);
      l.c2 = random_color(rng, 0.0, 0.4);
      l.i1 = ordinary(rng) * rng.uniform(0.2, 1.0);
      l.i2 = (force_bright || rng.uniform() < 0.4) ? bright(rng) : ordinary(rng);
      l.bound = std::sqrt(l.rx * l.rx + l.ry * l.ry) + 1.0;
      break;
    }
    case Kind::Texture: {
      l.rx = rng.uniform(0.08, 0.25) * size;
      l.ry = l.rx * rng.uniform(0.5, 1.0);
      l.c1 = random_color(rng, 0.2, 0.8);
      l.c2 = random_color(rng, 0.1, 0.7);
      l.i1 = (force_bright || rng.uniform() < 0.3) ? 0.5 * bright(rng) : ordinary(rng);
      l.contrast = rng.uniform(0.5, 2.0);
      l.noise_scale = std::max(3.0, rng.uniform(0.03, 0.1) * size);
      l.octaves = octaves_for(l.noise_scale);
      l.noise_seed = rng.next_u32();
      l.bound = std::max(l.rx, l.ry) + 2.0;
      break;
    }
    case Kind::Beam: break;
  }
  return l;
}

// A bar crossing the whole image. In a sequence it sweeps across perpendicular to its length,
// passing the image centre at frame t_cross; in a still image it sits at a random place.
Layer make_beam(Rng& rng, double size, int frames, double motion_scale) {
  Layer l;
  l.kind = Kind::Beam;
  l.rx = 1.5 * size;  // longer than the image's diagonal: the ends never show
  l.ry = rng.uniform(0.02, 0.07) * size;
  l.corner = 0;
  l.c1 = random_color(rng, 0.0, 0.5);
  l.i1 = log_uniform(rng, 0.02, 0.4);
  l.noise_scale = std::max(3.0, rng.uniform(0.05, 0.15) * size);
  l.octaves = octaves_for(l.noise_scale);
  l.noise_seed = rng.next_u32();
  const double th = rng.uniform(0, kPi);
  const double nx = -std::sin(th), ny = std::cos(th);  // normal to the bar
  const double along = rng.uniform(-0.2, 0.2) * size;
  Path& p = l.path;
  p.th0 = th;
  p.om = rng.uniform(-0.002, 0.002) * motion_scale;
  if (frames > 1) {
    const double speed =
        rng.uniform(0.004, 0.015) * size * (rng.uniform() < 0.5 ? -1 : 1) * motion_scale;
    const double t_cross = rng.uniform(0.15, 0.85) * frames;
    p.vx = speed * nx;
    p.vy = speed * ny;
    p.cx = 0.5 * size + along * std::cos(th) - p.vx * t_cross;
    p.cy = 0.5 * size + along * std::sin(th) - p.vy * t_cross;
  } else {
    const double off = rng.uniform(-0.4, 0.4) * size;
    p.cx = 0.5 * size + along * std::cos(th) + off * nx;
    p.cy = 0.5 * size + along * std::sin(th) + off * ny;
  }
  l.bound = std::sqrt(l.rx * l.rx + l.ry * l.ry) + 1.0;
  return l;
}

Scene make_scene(Rng& rng, int size, int frames, double beam_probability, double motion_scale) {
  Scene s;
  s.size = size;
  const double sz = size;
  s.bg.c1 = random_color(rng, 0.1, 0.6);
  s.bg.c2 = random_color(rng, 0.1, 0.6);
  s.bg.i1 = log_uniform(rng, 0.05, 0.4);
  s.bg.i2 = log_uniform(rng, 0.05, 0.4);
  const double dir = rng.uniform(0, 2 * kPi);
  s.bg.dx = std::cos(dir);
  s.bg.dy = std::sin(dir);
  s.bg.noise_scale = rng.uniform(0.15, 0.5) * sz;
  s.bg.octaves = octaves_for(s.bg.noise_scale);
  s.bg.contrast = rng.uniform(0.2, 0.8);
  s.bg.seed = rng.next_u32();

  const int n = 6 + static_cast<int>(rng.below(9));  // 6..14 features
  static const Kind kinds[] = {Kind::Blob, Kind::Blob, Kind::Sphere, Kind::Sphere,
                               Kind::Stripes, Kind::Gradient, Kind::Texture, Kind::Texture};
  for (int i = 0; i < n; ++i) {
    // The first feature is a bright light or highlight, so every scene has HDR content.
    const Kind k = i == 0 ? (rng.uniform() < 0.5 ? Kind::Blob : Kind::Sphere)
                          : kinds[rng.below(sizeof(kinds) / sizeof(kinds[0]))];
    s.layers.push_back(make_feature(rng, k, sz, i == 0, motion_scale));
  }
  // Shuffle the stacking order (Fisher-Yates on our own stream).
  for (size_t i = s.layers.size(); i > 1; --i) std::swap(s.layers[i - 1], s.layers[rng.below(i)]);

  if (frames > 1) {
    if (rng.uniform() < beam_probability) s.beams = rng.uniform() < 0.35 ? 2 : 1;
  } else {
    s.beams = rng.uniform() < 0.25 ? 1 : 0;
  }
  for (int b = 0; b < s.beams; ++b) s.layers.push_back(make_beam(rng, sz, frames, motion_scale));
  return s;
}

// ------------------------------------------------------------------------------- rendering

struct FramePoses {
  std::vector<Pose> pose;
  std::vector<double> x0, x1, y0, y1;  // world bounding boxes
};

FramePoses frame_poses(const Scene& s, double t) {
  FramePoses f;
  for (const Layer& l : s.layers) {
    Pose p = pose_at(l.path, t);
    f.pose.push_back(p);
    f.x0.push_back(p.x - l.bound);
    f.x1.push_back(p.x + l.bound);
    f.y0.push_back(p.y - l.bound);
    f.y1.push_back(p.y + l.bound);
  }
  return f;
}

// Front-to-back compositing at world point (wx, wy) over the background colour bg: the colour,
// and the surface (-1: background) that contributes the most radiance with its share of the
// pixel's radiance (r + g + b). Shares, not coverage: the faint tail of a very bright glow can
// outweigh the surface beneath it.
struct Hit {
  int layer = -1;
  double share = 0;
  Rgb rgb;
};

Hit composite(const Scene& s, const FramePoses& f, double wx, double wy, const Rgb& bg) {
  double trans = 1.0, total = 0, best = -1;
  Hit hit;
  for (int i = static_cast<int>(s.layers.size()) - 1; i >= 0 && trans > 1e-6; --i) {
    if (wx < f.x0[i] || wx > f.x1[i] || wy < f.y0[i] || wy > f.y1[i]) continue;
    double u, v;
    f.pose[i].to_local(wx, wy, u, v);
    const double a = s.layers[i].alpha(u, v);
    if (a <= 0) continue;
    const Rgb c = s.layers[i].color(u, v) * (trans * a);
    const double e = c.r + c.g + c.b;
    hit.rgb = hit.rgb + c;
    total += e;
    if (e > best) best = e, hit.layer = i;
    trans *= 1.0 - a;
  }
  const Rgb c = bg * trans;
  const double e = c.r + c.g + c.b;
  hit.rgb = hit.rgb + c;
  total += e;
  if (e > best) best = e, hit.layer = -1;
  hit.share = total > 0 ? best / total : 1.0;
  return hit;
}

// The background does not move: render it once per scene.
std::vector<Rgb> render_background(const Scene& s) {
  const int n = s.size;
  std::vector<Rgb> bg(static_cast<size_t>(n) * n);
  for (int y = 0; y < n; ++y)
    for (int x = 0; x < n; ++x) bg[static_cast<size_t>(y) * n + x] = s.bg.color(x + 0.5, y + 0.5, n);
  return bg;
}

// Which surface each pixel of a frame shows: the dominant layer (-1: background) and whether it
// alone explains the pixel (>= 98% of its radiance).
struct SurfaceMap {
  std::vector<int> layer;
  std::vector<unsigned char> single;
};

// Unscaled radiance at time t into o [3,n,n], and the surface map. Allocates only in `map`,
// which the caller sized: safe in parallel loops.
void render(const Scene& s, const std::vector<Rgb>& bg, double t, float* o, SurfaceMap& map) {
  const int n = s.size;
  const int64_t plane = int64_t(n) * n;
  const FramePoses f = frame_poses(s, t);
  for (int y = 0; y < n; ++y)
    for (int x = 0; x < n; ++x) {
      const int64_t k = int64_t(y) * n + x;
      const Hit h = composite(s, f, x + 0.5, y + 0.5, bg[k]);
      o[k] = static_cast<float>(h.rgb.r);
      o[plane + k] = static_cast<float>(h.rgb.g);
      o[2 * plane + k] = static_cast<float>(h.rgb.b);
      map.layer[k] = h.layer;
      map.single[k] = h.share >= kSingleSurface;
    }
}

// Backward flow of frame t (>= 1) to t - 1 into o [3,n,n], as documented in the header. A pixel
// is valid when one surface explains it in frame t and every pixel of frame t - 1 that bilinear
// sampling at x + d reads (the taps with non-zero weight) shows that same surface alone.
void render_flow(const Scene& s, int t, const SurfaceMap& now_map, const SurfaceMap& before_map,
                 float* o) {
  const int n = s.size;
  const int64_t plane = int64_t(n) * n;
  const FramePoses now = frame_poses(s, t), before = frame_poses(s, t - 1);
  for (int y = 0; y < n; ++y)
    for (int x = 0; x < n; ++x) {
      const int64_t k = int64_t(y) * n + x;
      const int layer = now_map.layer[k];
      double dx = 0, dy = 0;  // the background does not move
      if (layer >= 0) {
        const double wx = x + 0.5, wy = y + 0.5;
        double u, v, px, py;
        now.pose[layer].to_local(wx, wy, u, v);
        before.pose[layer].to_world(u, v, px, py);
        dx = px - wx;
        dy = py - wy;
      }
      o[k] = static_cast<float>(dx);
      o[plane + k] = static_cast<float>(dy);
      const double sx = x + dx, sy = y + dy;  // the sample point, in pixel indices
      bool valid = now_map.single[k] && sx >= 0 && sy >= 0 && sx <= n - 1 && sy <= n - 1;
      if (valid) {
        const int x0 = std::min(static_cast<int>(sx), n - 1), y0 = std::min(static_cast<int>(sy), n - 1);
        const int x1 = sx > x0 ? x0 + 1 : x0, y1 = sy > y0 ? y0 + 1 : y0;
        for (int ty : {y0, y1})
          for (int tx : {x0, x1}) {
            const int64_t q = int64_t(ty) * n + tx;
            valid = valid && before_map.single[q] && before_map.layer[q] == layer;
          }
      }
      o[2 * plane + k] = valid ? 1.f : 0.f;
    }
}

// ------------------------------------------------------------------------------- exposure

void append_max_channel(const Tensor& img, std::vector<float>& out) {
  const int64_t plane = img.size(1) * img.size(2);
  const float* p = img.data<float>();
  for (int64_t k = 0; k < plane; ++k)
    out.push_back(std::max(p[k], std::max(p[plane + k], p[2 * plane + k])));
}

// The scale that puts the share of pixels at or above 1 in [sat_min, sat_max], as near `target`
// as distinct values allow: the threshold lies between two different sorted values. Returns 0
// when no such threshold exists (flat content).
double exposure_scale(std::vector<float> m, double target, double sat_min, double sat_max) {
  std::sort(m.begin(), m.end());
  const int64_t n = static_cast<int64_t>(m.size());
  // A threshold between m[j-1] and m[j] leaves n - j pixels at or above 1.
  const int64_t j_lo = std::max<int64_t>(1, n - static_cast<int64_t>(std::floor(sat_max * n)));
  const int64_t j_hi = std::min<int64_t>(n - 1, n - static_cast<int64_t>(std::ceil(sat_min * n)));
  if (j_lo > j_hi) return 0;
  const int64_t j_target = std::clamp<int64_t>(n - std::llround(target * n), j_lo, j_hi);
  for (int64_t d = 0; d <= std::max(j_target - j_lo, j_hi - j_target); ++d)
    for (int64_t j : {j_target - d, j_target + d})
      if (j >= j_lo && j <= j_hi && m[j - 1] > 0 && m[j] > m[j - 1])
        return 2.0 / (static_cast<double>(m[j - 1]) + m[j]);
  return 0;
}

// Scales radiance by k and keeps every pixel's max channel at least 0.1% away from 1, so that
// rounding to half floats (relative step 2^-11 below 1, 2^-10 above) cannot carry a pixel across
// the clip point and the saturated share is the same in float and half files. The nudge moves
// the few pixels it touches by less than 0.1%.
void expose(Tensor& img, double k) {
  const int64_t plane = img.size(1) * img.size(2);
  float* p = img.data<float>();
  for (int64_t q = 0; q < plane; ++q) {
    double v[3];
    for (int c = 0; c < 3; ++c) v[c] = p[c * plane + q] * k;
    const double m = std::max(v[0], std::max(v[1], v[2]));
    double f = 1.0;
    if (m >= 0.999 && m < 1.0) f = 0.999 / m;
    if (m >= 1.0 && m < 1.001) f = 1.001 / m;
    for (int c = 0; c < 3; ++c) p[c * plane + q] = static_cast<float>(v[c] * f);
  }
}

double pooled_share(const std::vector<Tensor>& frames) {
  int64_t sat = 0, total = 0;
  for (const Tensor& f : frames) {
    std::vector<float> m;
    append_max_channel(f, m);
    for (float v : m) sat += v >= 1.0f;
    total += static_cast<int64_t>(m.size());
  }
  return static_cast<double>(sat) / static_cast<double>(total);
}

constexpr int kMaxAttempts = 32;

// ------------------------------------------------------------------------------- panning

// One axis of a window's path: the corner's position over time, inside [0, range].
struct PanAxis {
  double centre = 0, a[2] = {0, 0}, f[2] = {0, 0}, p[2] = {0, 0};
  double at(double t) const {
    return centre + a[0] * std::sin(2 * kPi * f[0] * t + p[0]) + a[1] * std::sin(2 * kPi * f[1] * t + p[1]);
  }
};

PanAxis pan_axis(Rng& rng, double range, double size, double motion_scale) {
  PanAxis ax;
  const double half = range / 2, speed_scale = size / 128.0 * motion_scale;
  ax.centre = half;
  ax.a[0] = rng.uniform(0.3, 0.6) * half;
  ax.a[1] = rng.uniform(0.1, 0.4) * half;
  const double speed[2] = {rng.uniform(0.3, 1.5) * speed_scale, rng.uniform(0.1, 0.8) * speed_scale};
  for (int k = 0; k < 2; ++k) {
    ax.f[k] = ax.a[k] > 0 ? std::min(0.02, speed[k] / (2 * kPi * ax.a[k])) : 0.0;
    ax.p[k] = rng.uniform(0, 2 * kPi);
  }
  return ax;
}

// The image at (x0 + x, y0 + y) for x, y in [0, n), bilinear on pixel indices; the window lies
// inside the image (the caller keeps x0 in [0, W - n - 1], likewise y0).
void sample_window(const float* img, int64_t h, int64_t w, double x0, double y0, int n, float* o) {
  const int64_t plane = h * w, out_plane = int64_t(n) * n;
  const double fx0 = std::floor(x0), fy0 = std::floor(y0);
  const double tx = x0 - fx0, ty = y0 - fy0;  // the same fraction for every pixel
  const int64_t ix0 = static_cast<int64_t>(fx0), iy0 = static_cast<int64_t>(fy0);
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < n; ++y) {
      const float* r0 = img + c * plane + (iy0 + y) * w + ix0;
      const float* r1 = r0 + w;
      for (int x = 0; x < n; ++x) {
        const double top = r0[x] * (1 - tx) + r0[x + 1] * tx;
        const double bottom = r1[x] * (1 - tx) + r1[x + 1] * tx;
        o[c * out_plane + int64_t(y) * n + x] = static_cast<float>(top * (1 - ty) + bottom * ty);
      }
    }
}

}  // namespace

void check_procedural_options(const ProceduralOptions& opt) {
  STEADY_CHECK(opt.size >= 8 && opt.size <= 8192, "--size must be in [8, 8192], got ", opt.size);
  STEADY_CHECK(opt.sat_min > 0 && opt.sat_min < 1, "--sat-min must be a share in (0, 1), got ",
               opt.sat_min);
  STEADY_CHECK(opt.sat_max > 0 && opt.sat_max < 1, "--sat-max must be a share in (0, 1), got ",
               opt.sat_max);
  STEADY_CHECK(opt.sat_min <= opt.sat_max, "--sat-min (", opt.sat_min, ") is above --sat-max (",
               opt.sat_max, ")");
  const double n = double(opt.size) * opt.size;
  STEADY_CHECK(std::ceil(opt.sat_min * n) <= std::floor(opt.sat_max * n),
               "--sat-min ", opt.sat_min, " .. --sat-max ", opt.sat_max,
               " holds no whole number of pixels of a ", opt.size, "x", opt.size, " image");
  STEADY_CHECK(std::isfinite(opt.motion_scale) && opt.motion_scale > 0 && opt.motion_scale <= 4,
               "--motion-scale must be in (0, 4], got ", opt.motion_scale);
  STEADY_CHECK(opt.beam_probability >= 0 && opt.beam_probability <= 1,
               "--beams must be a probability in [0, 1], got ", opt.beam_probability);
}

Tensor procedural_image(uint64_t seed, int64_t index, const ProceduralOptions& opt) {
  check_procedural_options(opt);
  Rng rng = item_rng(seed, 1, index);
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    // A still image has no motion: the first generator's poses, whatever the motion scale.
    const Scene s = make_scene(rng, opt.size, 1, opt.beam_probability, 1.0);
    Tensor img = Tensor::empty({3, opt.size, opt.size});
    SurfaceMap map;
    map.layer.resize(static_cast<size_t>(opt.size) * opt.size);
    map.single.resize(map.layer.size());
    render(s, render_background(s), 0.0, img.data<float>(), map);
    const double target = rng.uniform(opt.sat_min, opt.sat_max);
    std::vector<float> m;
    append_max_channel(img, m);
    const double k = exposure_scale(std::move(m), target, opt.sat_min, opt.sat_max);
    if (k <= 0) continue;  // flat content cannot hit the share: draw another scene
    expose(img, k);
    return img;
  }
  fail("procedural_image: no scene with a saturated share in [", opt.sat_min, ", ", opt.sat_max,
       "] after ", kMaxAttempts, " attempts (image ", index, ")");
}

ProceduralSequence procedural_sequence(uint64_t seed, int64_t index, int frames,
                                       const ProceduralOptions& opt) {
  check_procedural_options(opt);
  STEADY_CHECK(frames >= 2, "--frames must be at least 2, got ", frames);
  Rng rng = item_rng(seed, 2, index);
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    const Scene s = make_scene(rng, opt.size, frames, opt.beam_probability, opt.motion_scale);
    const std::vector<Rgb> bg = render_background(s);
    ProceduralSequence seq;
    std::vector<SurfaceMap> maps(frames);
    for (int t = 0; t < frames; ++t) {
      seq.frames.push_back(Tensor::empty({3, opt.size, opt.size}));
      seq.flow.push_back(Tensor::zeros({3, opt.size, opt.size}));
      maps[t].layer.resize(static_cast<size_t>(opt.size) * opt.size);
      maps[t].single.resize(maps[t].layer.size());
    }
#pragma omp parallel for schedule(dynamic)
    for (int t = 0; t < frames; ++t) render(s, bg, t, seq.frames[t].data<float>(), maps[t]);
#pragma omp parallel for schedule(dynamic)
    for (int t = 1; t < frames; ++t) render_flow(s, t, maps[t], maps[t - 1], seq.flow[t].data<float>());
    seq.target_share = rng.uniform(opt.sat_min, opt.sat_max);
    std::vector<float> m;
    for (const Tensor& f : seq.frames) append_max_channel(f, m);
    const double k = exposure_scale(std::move(m), seq.target_share, opt.sat_min, opt.sat_max);
    if (k <= 0) continue;
    for (Tensor& f : seq.frames) expose(f, k);
    seq.scale = k;
    seq.saturated_share = pooled_share(seq.frames);
    seq.beams = s.beams;
    return seq;
  }
  fail("procedural_sequence: no scene with a saturated share in [", opt.sat_min, ", ",
       opt.sat_max, "] after ", kMaxAttempts, " attempts (sequence ", index, ")");
}

ProceduralSequence pan_sequence(const Tensor& image, uint64_t seed, int64_t index, int frames,
                                const ProceduralOptions& opt) {
  check_procedural_options(opt);
  STEADY_CHECK(frames >= 2, "--frames must be at least 2, got ", frames);
  STEADY_CHECK(image.defined() && image.dim() == 3 && image.device() == Device::CPU,
               "pan_sequence: the image must be a CPU tensor [C,H,W], got ",
               image.defined() ? image.str() : std::string("an undefined tensor"));
  const Tensor rgb = convert_channels(image.dtype() == DType::F32 ? image : image.to(DType::F32), 3,
                                      "pan_sequence image");
  const int64_t h = rgb.size(1), w = rgb.size(2), n = opt.size;
  STEADY_CHECK(w >= n + 2 && h >= n + 2, "pan_sequence: the image (", w, "x", h,
               ") must be at least 2 pixels wider and higher than the window (--size ", n, ")");
  const float* src = rgb.data<float>();
  for (int64_t i = 0; i < rgb.numel(); ++i)
    STEADY_CHECK(std::isfinite(src[i]) && src[i] >= 0, "pan_sequence: the image holds ",
                 std::isfinite(src[i]) ? "a negative value" : "NaN or Inf", " (element ", i, ")");
  // The corner stays in [0, W - n - 1] so that bilinear sampling reads inside the image.
  const double range_x = static_cast<double>(w - n - 1), range_y = static_cast<double>(h - n - 1);
  Rng rng = item_rng(seed, 3, index);
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    const PanAxis ax = pan_axis(rng, range_x, static_cast<double>(n), opt.motion_scale);
    const PanAxis ay = pan_axis(rng, range_y, static_cast<double>(n), opt.motion_scale);
    ProceduralSequence seq;
    for (int t = 0; t < frames; ++t) {
      seq.window_x.push_back(std::clamp(ax.at(t), 0.0, range_x));
      seq.window_y.push_back(std::clamp(ay.at(t), 0.0, range_y));
      seq.frames.push_back(Tensor::empty({3, n, n}));
      seq.flow.push_back(Tensor::zeros({3, n, n}));
    }
#pragma omp parallel for schedule(static)
    for (int t = 0; t < frames; ++t)
      sample_window(src, h, w, seq.window_x[t], seq.window_y[t], static_cast<int>(n),
                    seq.frames[t].data<float>());
    for (int t = 1; t < frames; ++t) {
      const double dx = seq.window_x[t] - seq.window_x[t - 1], dy = seq.window_y[t] - seq.window_y[t - 1];
      float* o = seq.flow[t].data<float>();
      const int64_t plane = n * n;
      for (int64_t y = 0; y < n; ++y)
        for (int64_t x = 0; x < n; ++x) {
          const double sx = x + dx, sy = y + dy;
          o[y * n + x] = static_cast<float>(dx);
          o[plane + y * n + x] = static_cast<float>(dy);
          o[2 * plane + y * n + x] = sx >= 0 && sy >= 0 && sx <= n - 1 && sy <= n - 1 ? 1.f : 0.f;
        }
    }
    seq.target_share = rng.uniform(opt.sat_min, opt.sat_max);
    std::vector<float> m;
    for (const Tensor& f : seq.frames) append_max_channel(f, m);
    const double k = exposure_scale(std::move(m), seq.target_share, opt.sat_min, opt.sat_max);
    if (k <= 0) continue;  // too flat a region for the share: draw another path
    for (Tensor& f : seq.frames) expose(f, k);
    seq.scale = k;
    seq.saturated_share = pooled_share(seq.frames);
    return seq;
  }
  fail("pan_sequence: no path across the image gives a saturated share in [", opt.sat_min, ", ",
       opt.sat_max, "] after ", kMaxAttempts, " attempts (too few distinct values?)");
}

}  // namespace steady
