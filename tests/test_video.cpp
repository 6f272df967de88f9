// Video files through ffmpeg (data/video.h, read_sequence on .avi/.mkv/.mp4): a clip the test
// encodes losslessly from known frames reads back bit-exact, and the same frames given as a
// folder, a printf pattern, a multi-part EXR and the video are the same tensors; lossy H.264
// reads back close; write_video round trips (lossless exact, lossy close, odd sizes padded);
// max_frames and video_max_side; odd file names; and every bad input (missing ffmpeg, missing
// file, a text file named .mp4, an empty file, truncated AVI/MKV/MP4) is one steady::Error line.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "data/image_io.h"
#include "data/sequence.h"
#include "data/video.h"
#include "tests/error_check.h"
#include "tests/temp_dir.h"

using namespace steady;
namespace fs = std::filesystem;
using steady::test::TempDir;

namespace {

const char* kNoFfmpeg =
    "ffmpeg/ffprobe are not on PATH: the video tests need them; run scripts/deps.sh "
    "(or apt-get install ffmpeg)";

std::string quoted(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// Runs an ffmpeg command line the test builds (paths quoted); true on exit code 0.
bool run_ffmpeg(const std::string& args) {
  const std::string cmd = "ffmpeg -nostdin -v error -y " + args + " </dev/null >/dev/null 2>&1";
  return std::system(cmd.c_str()) == 0;
}

VideoWriteOptions lossless_video() {
  VideoWriteOptions o;
  o.lossless = true;
  return o;
}

// Smooth moving content on exact 8-bit levels (v = k/255 as the PNG and video readers give).
std::vector<Tensor> known_frames(int n, int h, int w) {
  std::vector<Tensor> frames;
  for (int t = 0; t < n; ++t) {
    Tensor f = Tensor::empty({3, h, w});
    float* p = f.data<float>();
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        const double r = 0.5 + 0.4 * std::sin(0.3 * x + 0.5 * t);
        const double g = (y + 0.5) / h;
        const double dx = x - (w * 0.3 + 2.0 * t), dy = y - h * 0.5;
        const double b = dx * dx + dy * dy < 20.0 ? 0.9 : 0.2;
        const double v[3] = {r, g, b};
        for (int c = 0; c < 3; ++c)
          p[(c * h + y) * w + x] = static_cast<unsigned char>(std::lround(v[c] * 255.0)) * (1.0f / 255.0f);
      }
    frames.push_back(f);
  }
  return frames;
}

bool same_values(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape()) return false;
  const float* x = a.data<float>();
  const float* y = b.data<float>();
  for (int64_t i = 0; i < a.numel(); ++i)
    if (x[i] != y[i]) return false;
  return true;
}

double mean_abs_diff(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  const float* x = a.data<float>();
  const float* y = b.data<float>();
  double s = 0;
  for (int64_t i = 0; i < a.numel(); ++i) s += std::fabs(x[i] - y[i]);
  return s / static_cast<double>(a.numel());
}

// The frames as PNGs dir/f_0001.png ... (numbered from 1).
void write_png_frames(const std::string& dir, const std::vector<Tensor>& frames) {
  fs::create_directories(dir);
  for (size_t t = 0; t < frames.size(); ++t) {
    char name[32];
    std::snprintf(name, sizeof(name), "f_%04zu.png", t + 1);
    write_png((fs::path(dir) / name).string(), frames[t]);
  }
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
}

void truncate_copy(const std::string& from, const std::string& to, double share) {
  std::ifstream in(from, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  write_bytes(to, bytes.substr(0, static_cast<size_t>(bytes.size() * share)));
}

using test::check_error;

// Sets PATH for the scope (to hide ffmpeg), then restores it.
struct PathOverride {
  std::string old;
  bool had = false;
  explicit PathOverride(const std::string& value) {
    if (const char* p = std::getenv("PATH")) old = p, had = true;
    setenv("PATH", value.c_str(), 1);
  }
  ~PathOverride() {
    if (had)
      setenv("PATH", old.c_str(), 1);
    else
      unsetenv("PATH");
  }
};

}  // namespace

TEST_CASE("videos made by ffmpeg: lossless bit-exact and equal to the folder, pattern and EXR "
          "forms; lossy H.264 close") {
  REQUIRE_MESSAGE(ffmpeg_available(), kNoFfmpeg);
  TempDir dir("steady_test_video");
  const std::vector<Tensor> frames = known_frames(6, 24, 32);
  write_png_frames(dir / "png", frames);
  write_exr_multipart(dir / "multi.exr", frames);
  const std::string pattern = dir / "png/f_%04d.png";
  // One ffmpeg run, two outputs: FFV1 in AVI (lossless RGB) and H.264 yuv420p in MP4.
  REQUIRE(run_ffmpeg("-framerate 25 -start_number 1 -i " + quoted(pattern) +
                     " -c:v ffv1 -pix_fmt bgr0 " + quoted(dir / "clip.avi") +
                     " -c:v libx264 -crf 12 -pix_fmt yuv420p " + quoted(dir / "clip.mp4")));
  CHECK(sequence_kind(dir / "clip.avi") == SequenceKind::Video);

  const Sequence video = read_sequence(dir / "clip.avi");
  CHECK(video.kind == SequenceKind::Video);
  CHECK(video.fps == doctest::Approx(25.0));
  REQUIRE(video.frames.size() == 6);
  for (size_t t = 0; t < 6; ++t) {
    CAPTURE(t);
    CHECK(video.frames[t].shape() == Shape({3, 24, 32}));
    CHECK(same_values(video.frames[t], frames[t]));
  }
  for (const std::string& spec : {dir / "png", pattern, dir / "multi.exr"}) {
    CAPTURE(spec);
    const Sequence s = read_sequence(spec);
    REQUIRE(s.frames.size() == 6);
    for (size_t t = 0; t < 6; ++t) CHECK(same_values(s.frames[t], video.frames[t]));
  }
  // Lossy: same count and size, values close (chroma subsampling and quantization), and each
  // frame nearer its own original than the one before (not shifted in time).
  double fps = 0;
  const std::vector<Tensor> lossy = read_video_frames(dir / "clip.mp4", &fps);
  CHECK(fps == doctest::Approx(25.0));
  REQUIRE(lossy.size() == 6);
  for (size_t t = 0; t < 6; ++t) {
    CAPTURE(t);
    REQUIRE(lossy[t].shape() == Shape({3, 24, 32}));
    const double err = mean_abs_diff(lossy[t], frames[t]);
    CHECK(err < 0.03);
    if (t > 0) CHECK(err < mean_abs_diff(lossy[t], frames[t - 1]));
  }
}

TEST_CASE("write_video: lossless exact, lossy close, odd sizes padded, bad input refused") {
  REQUIRE_MESSAGE(ffmpeg_available(), kNoFfmpeg);
  TempDir dir("steady_test_video");
  const std::vector<Tensor> frames = known_frames(5, 24, 32);
  const VideoWriteOptions lossless = lossless_video();
  // FFV1 in Matroska, with a grey 1-channel frame whose values clamp; libx264rgb in MP4.
  std::vector<Tensor> mixed = frames;
  mixed.push_back(Tensor::full({1, 24, 32}, 1.5));
  mixed[1] = convert_channels(mixed[1], 1, "frame 1");
  for (const std::string name : {"l.mkv", "l.mp4"}) {
    CAPTURE(name);
    write_video(dir / name, mixed, 12.5, lossless);
    double fps = 0;
    const std::vector<Tensor> back = read_video(dir / name, &fps);
    CHECK(fps == doctest::Approx(12.5));
    REQUIRE(back.size() == 6);
    for (size_t t : {0, 2, 3, 4}) CHECK(same_values(back[t], frames[t]));
    // Grey is written as R = G = B of the 8-bit level; 1.5 clamps to 1.
    const float* g = back[1].data<float>();
    const float* y = mixed[1].data<float>();
    for (int k = 0; k < 24 * 32; ++k)
      for (int c = 0; c < 3; ++c)
        CHECK(g[c * 24 * 32 + k] == std::lround(y[k] * 255.0f) * (1.0f / 255.0f));
    for (int i = 0; i < 3 * 24 * 32; ++i) CHECK(back[5].data<float>()[i] == 1.0f);
  }
  // Lossy H.264 with odd sides: padded by repeating the last row and column (yuv420p needs
  // even sides), close to the frames inside.
  const std::vector<Tensor> odd = known_frames(3, 23, 31);
  write_video(dir / "odd.mp4", odd, 25);
  const std::vector<Tensor> odd_back = read_video(dir / "odd.mp4");
  REQUIRE(odd_back.size() == 3);
  REQUIRE(odd_back[0].shape() == Shape({3, 24, 32}));
  for (size_t t = 0; t < 3; ++t) {
    double err = 0;
    const float* a = odd_back[t].data<float>();
    const float* b = odd[t].data<float>();
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < 23; ++y)
        for (int x = 0; x < 31; ++x) err += std::fabs(a[(c * 24 + y) * 32 + x] - b[(c * 23 + y) * 31 + x]);
    CHECK(err / (3 * 23 * 31) < 0.03);
  }

  check_error([&] { write_video(dir / "none.mp4", {}, 25); }, {"none.mp4", "no frames"});
  check_error([&] { write_video(dir / "fps.mp4", frames, 0); }, {"fps.mp4", "fps"});
  check_error([&] { write_video(dir / "mixed.mp4", {frames[0], odd[0]}, 25); }, {"mixed.mp4", "frame 1"});
  check_error([&] { write_video(dir / "chan.mp4", {Tensor::zeros({4, 8, 8})}, 25); }, {"chan.mp4"});
  check_error([&] { write_video(dir / "no/such/folder/x.mp4", frames, 25); }, {"x.mp4", "ffmpeg failed"});
}

TEST_CASE("max_frames and video_max_side; file names with spaces, quotes, colons and dashes") {
  REQUIRE_MESSAGE(ffmpeg_available(), kNoFfmpeg);
  TempDir dir("steady_test_video");
  const std::vector<Tensor> frames = known_frames(7, 24, 32);
  const VideoWriteOptions lossless = lossless_video();
  // A name a shell or ffmpeg's option parser would misread: a leading dash, a space, quotes,
  // "$(...)" and a colon (ffmpeg's protocol separator).
  const std::string odd_name = dir / "-a b'c\"$(x):y.mkv";
  write_video(odd_name, frames, 25, lossless);
  write_png_frames(dir / "png", frames);
  write_exr_multipart(dir / "multi.exr", frames);
  // The first 3 frames, as grey: every form gives the same tensors. The video is named
  // relative to the working folder, so its name starts with '-' and its first ':' ends what
  // ffmpeg would take for a protocol name.
  SequenceReadOptions three;
  three.max_frames = 3;
  three.channels = 1;
  const fs::path cwd = fs::current_path();
  fs::current_path(dir.path);
  std::vector<Sequence> forms;
  try {
    forms.push_back(read_sequence("-a b'c\"$(x):y.mkv", three));
  } catch (...) {
    fs::current_path(cwd);
    throw;
  }
  fs::current_path(cwd);
  for (const std::string& spec : {dir / "png", dir / "png/f_%04d.png", dir / "multi.exr"})
    forms.push_back(read_sequence(spec, three));
  for (const Sequence& s : forms) {
    CAPTURE(s.source);
    REQUIRE(s.frames.size() == 3);
    for (size_t t = 0; t < 3; ++t) CHECK(same_values(s.frames[t], convert_channels(frames[t], 1, "")));
  }
  SequenceReadOptions small;
  small.video_max_side = 16;
  const Sequence s = read_sequence(odd_name, small);
  REQUIRE(s.frames.size() == 7);
  CHECK(s.frames[0].shape() == Shape({3, 12, 16}));
  // Area down-scaling by 2 averages 2x2 blocks: close to the mean of the original block.
  const float* p = s.frames[4].data<float>();
  const float* o = frames[4].data<float>();
  const double block = (o[(1 * 24 + 10) * 32 + 6] + o[(1 * 24 + 10) * 32 + 7] +
                        o[(1 * 24 + 11) * 32 + 6] + o[(1 * 24 + 11) * 32 + 7]) / 4;
  CHECK(p[(1 * 12 + 5) * 16 + 3] == doctest::Approx(block).epsilon(0.02));
}

TEST_CASE("bad videos give one clear steady::Error line: not a video, empty, truncated, missing") {
  REQUIRE_MESSAGE(ffmpeg_available(), kNoFfmpeg);
  TempDir dir("steady_test_video");
  // Clean files (one ffmpeg run, three outputs); clean files read back in the tests above.
  REQUIRE(run_ffmpeg("-f lavfi -i testsrc=size=64x48:rate=25 -frames:v 20 -c:v ffv1 -pix_fmt bgr0 " +
                     quoted(dir / "good.avi") + " -frames:v 20 -c:v ffv1 -pix_fmt bgr0 " +
                     quoted(dir / "good.mkv") + " -frames:v 20 -c:v libx264 -pix_fmt yuv420p " +
                     quoted(dir / "good.mp4")));
  write_bytes(dir / "text.mp4", "this is a text file, not a video\n");
  check_error([&] { read_sequence(dir / "text.mp4"); }, {"text.mp4", "not a video"});
  write_bytes(dir / "empty.avi", "");
  check_error([&] { read_sequence(dir / "empty.avi"); }, {"empty.avi", "empty"});
  for (const std::string ext : {".mkv", ".mp4"}) {
    CAPTURE(ext);
    truncate_copy(dir / ("good" + ext), dir / ("cut" + ext), 0.6);
    check_error([&] { read_sequence(dir / ("cut" + ext)); }, {"cut" + ext});
  }
  // A cut AVI: ffmpeg exits 0; the damage shows in its warnings or in the frame count of the
  // header.
  truncate_copy(dir / "good.avi", dir / "cut2.avi", 0.9);
  check_error([&] { read_video(dir / "cut2.avi"); }, {"cut2.avi", "truncated"});
  // Garbage after a valid header.
  {
    std::ifstream in(dir / "good.mkv", std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    for (size_t i = bytes.size() / 3; i < bytes.size(); i += 7) bytes[i] = static_cast<char>(bytes[i] ^ 0x5a);
    write_bytes(dir / "garbled.mkv", bytes);
    check_error([&] { read_video(dir / "garbled.mkv"); }, {"garbled.mkv"});
  }
  check_error([&] { read_video(dir / "missing.mp4"); }, {"missing.mp4", "no such file"});
  fs::create_directories(dir.path / "folder.mp4");
  check_error([&] { read_video(dir / "folder.mp4"); }, {"folder.mp4", "folder"});
  // A PNG is not refused by ffmpeg (image2 reads it as a one-frame stream), but a
  // directory-like spec is a folder sequence, not a video.
  CHECK(sequence_kind(dir / "folder.mp4") == SequenceKind::Folder);
}

TEST_CASE("without ffmpeg on PATH, reading and writing say how to install it") {
  TempDir dir("steady_test_video");
  write_bytes(dir / "clip.mp4", "whatever");
  PathOverride no_path((dir.path / "empty-bin").string());
  CHECK_FALSE(ffmpeg_available());
  check_error([&] { read_sequence(dir / "clip.mp4"); },
              {"clip.mp4", "reading videos needs ffmpeg", "scripts/deps.sh", "apt-get install ffmpeg"});
  check_error([&] { write_video(dir / "out.mp4", {Tensor::zeros({3, 4, 4})}, 25); },
              {"out.mp4", "writing videos needs ffmpeg"});
}
