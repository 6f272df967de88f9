// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011): a
// counter-based generator, callable from host and device code, so one seed gives the same
// transforms, noise, initialization and shuffling on the CPU and the GPU. Rng is the host-side
// stream: (seed, counter) is its whole state, which checkpoints save.
#pragma once
#include <cmath>
#include <cstdint>

#ifdef __CUDACC__
#define STEADY_HD __host__ __device__ __forceinline__
#else
#define STEADY_HD inline
#endif

namespace steady {

struct U32x4 {
  uint32_t v[4];
};

STEADY_HD uint32_t mulhilo32(uint32_t a, uint32_t b, uint32_t* hi) {
  uint64_t p = static_cast<uint64_t>(a) * b;
  *hi = static_cast<uint32_t>(p >> 32);
  return static_cast<uint32_t>(p);
}

// Ten rounds of Philox4x32 on counter ctr with key (k0, k1).
STEADY_HD U32x4 philox4x32_10(U32x4 ctr, uint32_t k0, uint32_t k1) {
  for (int round = 0; round < 10; ++round) {
    uint32_t hi0, hi1;
    uint32_t lo0 = mulhilo32(0xD2511F53u, ctr.v[0], &hi0);
    uint32_t lo1 = mulhilo32(0xCD9E8D57u, ctr.v[2], &hi1);
    ctr = U32x4{{hi1 ^ ctr.v[1] ^ k0, lo1, hi0 ^ ctr.v[3] ^ k1, lo0}};
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return ctr;
}

// Uniform in [0, 1) with 24 random bits (exact in float).
STEADY_HD float u32_to_unit(uint32_t x) { return (x >> 8) * (1.0f / 16777216.0f); }

// The four values of block `index` of stream (seed, stream_id).
STEADY_HD U32x4 philox_block(uint64_t seed, uint64_t stream_id, uint64_t index) {
  U32x4 c{{static_cast<uint32_t>(index), static_cast<uint32_t>(index >> 32),
           static_cast<uint32_t>(stream_id), static_cast<uint32_t>(stream_id >> 32)}};
  return philox4x32_10(c, static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
}

class Rng {
 public:
  explicit Rng(uint64_t seed = 0, uint64_t counter = 0) : seed_(seed), counter_(counter) {}

  uint64_t seed() const { return seed_; }
  uint64_t counter() const { return counter_; }  // blocks consumed; with seed, the whole state
  void set_state(uint64_t seed, uint64_t counter) { seed_ = seed, counter_ = counter; }

  U32x4 next_block() { return philox_block(seed_, 0, counter_++); }
  uint32_t next_u32() { return next_block().v[0]; }
  // [0, 1) with 53 random bits
  double uniform() {
    U32x4 b = next_block();
    uint64_t x = (static_cast<uint64_t>(b.v[0]) << 21) ^ (b.v[1] >> 11);
    return static_cast<double>(x & ((1ull << 53) - 1)) * (1.0 / 9007199254740992.0);
  }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  // Box-Muller; one normal per call keeps the stream position easy to reason about.
  double normal() {
    double u1 = uniform(), u2 = uniform();
    if (u1 < 1e-300) u1 = 1e-300;
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }
  uint64_t below(uint64_t n) { return static_cast<uint64_t>(uniform() * static_cast<double>(n)); }

 private:
  uint64_t seed_, counter_;
};

}  // namespace steady
