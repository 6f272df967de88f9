// Writes the harnesses' seed corpora with our own writers: small EXRs (half and float, one- and
// multi-part, with and without a motion file), PNG (grey, RGB, RGBA, 16-bit), JPEG, Radiance HDR
// and a checkpoint of the harness's store.
//   fuzz_seeds OUTDIR   ->  OUTDIR/{exr,png,jpg,hdr,checkpoint,sequence}/...
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_WRITE_STATIC
#include <stb/stb_image_write.h>

#include "data/image_io.h"
#include "engine/checkpoint.h"
#include "tests/fuzz/fuzz_store.h"

namespace fs = std::filesystem;
using namespace steady;

namespace {

Tensor image(int c, int h, int w, double scale) {
  std::vector<float> v(static_cast<size_t>(c) * h * w);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(scale * ((i * 37) % 101) / 100.0);
  return Tensor::from_vector(v, {c, h, w});
}

std::vector<unsigned char> bytes8(int c, int h, int w) {
  std::vector<unsigned char> v(static_cast<size_t>(c) * h * w);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<unsigned char>((i * 37) % 256);
  return v;
}

std::vector<char> read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fuzz_seeds OUTDIR\n");
    return 2;
  }
  const fs::path out = argv[1];
  for (const char* d : {"exr", "png", "jpg", "hdr", "checkpoint", "sequence"})
    fs::create_directories(out / d);
  try {
    ExrWriteOptions half;
    half.precision = ExrPrecision::Half;
    write_exr((out / "exr/rgb_half.exr").string(), image(3, 8, 6, 4.0), half);
    ExrWriteOptions full;
    write_exr((out / "exr/grey_float.exr").string(), image(1, 5, 7, 2.0), full);
    const std::vector<Tensor> frames{image(3, 6, 6, 1.0), image(3, 6, 6, 2.0), image(3, 6, 6, 3.0)};
    write_exr_multipart((out / "exr/three_parts.exr").string(), frames);
    write_png((out / "png/rgb.png").string(), image(3, 9, 7, 1.0));
    write_png((out / "png/grey.png").string(), image(1, 4, 5, 1.0));
    const auto rgba = bytes8(4, 6, 5);
    stbi_write_png((out / "png/rgba.png").c_str(), 5, 6, 4, rgba.data(), 5 * 4);
    const auto rgb8 = bytes8(3, 16, 16);
    stbi_write_jpg((out / "jpg/rgb.jpg").c_str(), 16, 16, 3, rgb8.data(), 90);
    stbi_write_jpg((out / "jpg/grey.jpg").c_str(), 16, 16, 1, rgb8.data(), 50);
    const Tensor hdr = image(3, 8, 8, 8.0);
    stbi_write_hdr((out / "hdr/rgb.hdr").c_str(), 8, 8, 3, hdr.to(DType::F32).data<float>());
    // Sequence harness inputs: the sequence's bytes then the motion file's.
    const std::vector<Tensor> flow{image(3, 6, 6, 0.5), image(3, 6, 6, 0.5), image(3, 6, 6, 0.5)};
    write_exr_multipart((out / "sequence.flow.tmp.exr").string(), flow);
    for (const auto& [name, motion] :
         std::vector<std::pair<std::string, std::string>>{{"with_flow", "sequence.flow.tmp.exr"},
                                                          {"alone", ""}}) {
      std::vector<char> seq = read_all(out / "exr/three_parts.exr");
      std::vector<char> mot = motion.empty() ? std::vector<char>() : read_all(out / motion);
      // The harness splits its input in halves: pad the shorter part with trailing zeros.
      const size_t n = std::max(seq.size(), mot.size());
      seq.resize(n, 0);
      mot.resize(n, 0);
      std::ofstream f(out / "sequence" / (name + ".bin"), std::ios::binary);
      f.write(seq.data(), static_cast<std::streamsize>(n));
      f.write(mot.data(), static_cast<std::streamsize>(n));
    }
    fs::remove(out / "sequence.flow.tmp.exr");
    steady_fuzz::Store s;
    CheckpointMeta meta;
    meta.step = 3;
    meta.rng_seed = 1;
    meta.config = R"({"task":"hdr","reg":"none","alpha":0.95,"batch":8})";
    save_checkpoint((out / "checkpoint/small.safetensors").string(), s.params, &s.adam, meta);
    save_checkpoint((out / "checkpoint/no_adam.safetensors").string(), s.params, nullptr, meta);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz_seeds: %s\n", e.what());
    return 1;
  }
  return 0;
}
