// Image files in and out. Images are CPU float32 tensors [C,H,W] with C = 1 (Y), 3 (RGB) or
// 4 (RGBA).
//   EXR (OpenEXR 3.1): read any pixel type (half, float, uint) into float; write half or float.
//       Multi-part EXR holds one frame per part (a whole sequence in one file).
//   HDR (Radiance .hdr) through stb_image's stbi_loadf: linear floats.
//   PNG / JPG (and what else stb_image reads) as LDR: 8- or 16-bit values scaled to [0,1].
//   PNG out through stb_image_write, 8 bits, values clamped to [0,1].
// Y+A and grey+alpha files lose their alpha (2-channel images are not a layout here).
// The format is told by the file's first bytes, not its name. Every failure (missing file, not
// an image, truncated or corrupt data, a channel layout other than Y/RGB/RGBA, NaN or Inf in
// the pixels) throws steady::Error with one line naming the file. Negative values in HDR data
// (DWA-compressed EXRs hold small ones) are clamped to 0: radiance is never negative.
#pragma once
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace steady {

enum class ExrPrecision { Half, Float };

struct ExrWriteOptions {
  ExrPrecision precision = ExrPrecision::Float;
  double fps = 0;  // > 0: stored as the standard framesPerSecond attribute
};

// What an EXR file holds, read from its headers only.
struct ExrInfo {
  int parts = 0;
  int64_t width = 0, height = 0;  // of part 0
  int channels = 0;               // of part 0: 1, 3 or 4
  double fps = 0;                 // 0 when the file does not say
};

// Any supported file, EXR (part 0), HDR, PNG or JPG. channels = 0 keeps what the file has;
// channels = 3 gives RGB (Y is repeated, alpha dropped); channels = 1 gives Y (RGB as Rec. 709
// luminance). Anything else is an error.
Tensor read_image(const std::string& path, int channels = 0);

// EXR only. read_exr reads part `part` of a single- or multi-part file. clamp_negative = false
// keeps negative values: for signed data such as stored motion (dx, dy), not radiance.
Tensor read_exr(const std::string& path, int part = 0, bool clamp_negative = true);
std::vector<Tensor> read_exr_parts(const std::string& path,  // every part, in order
                                   bool clamp_negative = true);
ExrInfo read_exr_info(const std::string& path);
int exr_part_count(const std::string& path);

// img [C,H,W], C in {1,3,4}, CPU, float32 or float64. ZIP compressed (lossless, deterministic:
// the same tensor always gives the same bytes).
void write_exr(const std::string& path, const Tensor& img, const ExrWriteOptions& opt = {});
// One part per frame, named frame_0000, frame_0001, ...; all frames of one shape.
void write_exr_multipart(const std::string& path, const std::vector<Tensor>& frames,
                         const ExrWriteOptions& opt = {});

// img [C,H,W], C in {1,3,4}: round(255 * clamp(v, 0, 1)).
void write_png(const std::string& path, const Tensor& img);

// Converts [C,H,W] between channel layouts as read_image's `channels` describes.
Tensor convert_channels(const Tensor& img, int channels, const std::string& what);

// File names by extension (case-insensitive), for listing folders.
bool has_image_extension(const std::string& path);  // .exr .hdr .png .jpg .jpeg
bool has_hdr_extension(const std::string& path);    // .exr .hdr
bool has_exr_extension(const std::string& path);
bool is_exr_file(const std::string& path);  // by content: the EXR magic number

// The image files directly inside dir (no recursion), in natural order ("f2" before "f10").
// hdr_only: just .exr and .hdr. Throws when dir is not a readable folder.
std::vector<std::string> list_images(const std::string& dir, bool hdr_only = false);

// "frame2" < "frame10": runs of digits compare as numbers.
bool natural_less(const std::string& a, const std::string& b);

}  // namespace steady
