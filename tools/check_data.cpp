// check_data: opens every image and video under the given files or folders (recursively) with
// the loaders the tools use (read_image, read_video) and prints one line per file: its size,
// channels and value range, for EXRs the compression and how many negative values the loader
// clamped to 0 (DWA compression leaves small ones), for videos the frame count and rate.
//   ./check_data data/real
// Exit code 0 when every file opened, 1 otherwise (each failure is one line).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include <ImfChannelList.h>
#include <ImfCompression.h>
#include <ImfFrameBuffer.h>
#include <ImfHeader.h>
#include <ImfInputPart.h>
#include <ImfMultiPartInputFile.h>

#include "data/image_io.h"
#include "data/sequence.h"
#include "data/video.h"
#include "tools/lib/cli.h"

using namespace steady;
namespace fs = std::filesystem;

namespace {

struct Range {
  double lo = std::numeric_limits<double>::infinity(), hi = -std::numeric_limits<double>::infinity();
  void add(const Tensor& t) {
    const float* p = t.data<float>();
    for (int64_t i = 0; i < t.numel(); ++i) lo = std::min<double>(lo, p[i]), hi = std::max<double>(hi, p[i]);
  }
};

const char* compression_name(Imf::Compression c) {
  switch (c) {
    case Imf::NO_COMPRESSION: return "none";
    case Imf::RLE_COMPRESSION: return "rle";
    case Imf::ZIPS_COMPRESSION: return "zips";
    case Imf::ZIP_COMPRESSION: return "zip";
    case Imf::PIZ_COMPRESSION: return "piz";
    case Imf::PXR24_COMPRESSION: return "pxr24";
    case Imf::B44_COMPRESSION: return "b44";
    case Imf::B44A_COMPRESSION: return "b44a";
    case Imf::DWAA_COMPRESSION: return "dwaa";
    case Imf::DWAB_COMPRESSION: return "dwab";
    default: return "other";
  }
}

// The raw R, G, B (or Y) values of part 0 as stored, before the loader clamps negatives:
// how many are below 0 and the smallest.
struct RawExr {
  std::string compression;
  int64_t negatives = 0, values = 0;
  double min = 0;
};

RawExr raw_exr_stats(const std::string& path) {
  Imf::MultiPartInputFile file(path.c_str());
  const Imf::Header& h = file.header(0);
  RawExr r;
  r.compression = compression_name(h.compression());
  const Imath::Box2i dw = h.dataWindow();
  const int64_t w = int64_t(dw.max.x) - dw.min.x + 1, hh = int64_t(dw.max.y) - dw.min.y + 1;
  std::vector<std::string> names;
  for (const char* n : {"R", "G", "B", "Y"})
    if (h.channels().findChannel(n)) names.push_back(n);
  std::vector<float> buf(static_cast<size_t>(w * hh) * names.size());
  Imf::FrameBuffer fb;
  for (size_t c = 0; c < names.size(); ++c)
    fb.insert(names[c], Imf::Slice::Make(Imf::FLOAT, buf.data() + c * w * hh, dw, sizeof(float),
                                         static_cast<size_t>(w) * sizeof(float)));
  Imf::InputPart in(file, 0);
  in.setFrameBuffer(fb);
  in.readPixels(dw.min.y, dw.max.y);
  r.values = static_cast<int64_t>(buf.size());
  for (float v : buf)
    if (v < 0) ++r.negatives, r.min = std::min<double>(r.min, v);
  return r;
}

bool check_image(const std::string& path) {
  try {
    const Tensor img = read_image(path);
    Range range;
    range.add(img);
    // The whole line is made first: a later failure prints FAIL alone, never after "ok".
    char line[512];
    std::snprintf(line, sizeof line, "ok    %-60s %5lldx%-5lld C=%lld  [%.4g, %.4g]", path.c_str(),
                  static_cast<long long>(img.size(2)), static_cast<long long>(img.size(1)),
                  static_cast<long long>(img.size(0)), range.lo, range.hi);
    std::string out = line;
    if (is_exr_file(path)) {  // by content, not by name
      const RawExr raw = raw_exr_stats(path);
      std::snprintf(line, sizeof line, "  exr %s, %lld negative values clamped", raw.compression.c_str(),
                    static_cast<long long>(raw.negatives));
      out += line;
      if (raw.negatives > 0) {
        std::snprintf(line, sizeof line, " (%.3g%% of values, min %.3g)", 100.0 * raw.negatives / raw.values, raw.min);
        out += line;
      }
    }
    std::printf("%s\n", out.c_str());
    return true;
  } catch (const std::exception& e) {
    std::printf("FAIL  %s\n", e.what());
    return false;
  }
}

// Decodes every frame (scaled down so memory stays small) to be sure the whole clip is clean.
bool check_video(const std::string& path, int64_t max_side) {
  try {
    const VideoInfo info = probe_video(path);
    VideoReadOptions opt;
    opt.max_side = max_side;
    double fps = 0;
    const std::vector<Tensor> frames = read_video(path, &fps, opt);
    Range range;
    for (const Tensor& f : frames) range.add(f);
    std::printf("ok    %-60s %5lldx%-5lld C=3  [%.4g, %.4g]  video %zu frames at %.4g fps\n",
                path.c_str(), static_cast<long long>(info.width),
                static_cast<long long>(info.height), range.lo, range.hi, frames.size(), fps);
    return true;
  } catch (const std::exception& e) {
    std::printf("FAIL  %s\n", e.what());
    return false;
  }
}

// The regular files under dir, recursively (symbolic links to folders are not followed). A
// folder that cannot be listed is one FAIL line and the scan goes on.
void collect(const fs::path& dir, std::vector<std::string>& files, int64_t& unreadable) {
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) {
    std::printf("FAIL  %s: cannot list the folder: %s\n", dir.string().c_str(), ec.message().c_str());
    unreadable += 1;
    return;
  }
  std::vector<fs::path> subfolders;
  for (fs::directory_iterator end; it != end; it.increment(ec)) {
    const fs::file_status status = it->symlink_status(ec);
    if (fs::is_directory(status)) {
      subfolders.push_back(it->path());
    } else if (it->is_regular_file(ec)) {
      files.push_back(it->path().string());
    }
  }
  if (ec) {
    std::printf("FAIL  %s: listing stopped: %s\n", dir.string().c_str(), ec.message().c_str());
    unreadable += 1;
  }
  for (const fs::path& sub : subfolders) collect(sub, files, unreadable);
}

int run(int argc, char** argv) {
  Cli cli("check_data",
          "PATH... [options]\n\nOpens every image (.exr .hdr .png .jpg .jpeg) and video (.mp4 .avi\n"
          ".mov .mpg .mkv .webm) under the given files or folders with the loaders the tools use.");
  cli.option("video-side", "96", "decode videos scaled so the longer side is at most this");
  if (!cli.parse(argc, argv)) return 0;
  STEADY_CHECK(!cli.positional().empty(), "expected one or more files or folders (see --help)");
  std::vector<std::string> files;
  int64_t unreadable = 0;
  for (const std::string& p : cli.positional()) {
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      collect(p, files, unreadable);
    } else {
      STEADY_CHECK(fs::exists(p, ec), "'", p, "': no such file or folder");
      files.push_back(p);
    }
  }
  std::sort(files.begin(), files.end(), natural_less);
  int64_t ok = 0, failed = 0, images = 0, videos = 0;
  for (const std::string& f : files) {
    bool good;
    if (has_image_extension(f))
      good = check_image(f), ++images;
    else if (has_video_extension(f))
      good = check_video(f, cli.get_int("video-side", 0, 65536)), ++videos;
    else
      continue;
    (good ? ok : failed) += 1;
  }
  std::printf("%lld images, %lld videos: %lld opened, %lld failed", static_cast<long long>(images),
              static_cast<long long>(videos), static_cast<long long>(ok), static_cast<long long>(failed));
  if (unreadable > 0) std::printf("; %lld folders could not be listed", static_cast<long long>(unreadable));
  std::printf("\n");
  return failed == 0 && unreadable == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) { return run_tool("check_data", run, argc, argv); }
