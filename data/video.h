// Video files in and out through Debian's ffmpeg command-line programs (scripts/deps.sh
// installs them). No libav* is linked: ffprobe tells the size and frame rate, ffmpeg decodes to
// raw rgb24 on a pipe (or encodes from one). The programs are started with posix_spawnp and an
// argv array, never through a shell, so any file name is safe; names go to ffmpeg as
// "file:NAME" so a ':' or a leading '-' in a name is not read as a protocol or an option.
//
// Reading: frames come out as CPU float32 [3,H,W] in [0,1] (v / 255), in decoding order, every
// decoded frame once. Rotation metadata is not applied (-noautorotate): the frames have the
// size the stream stores. Every failure is one steady::Error line naming the file: ffmpeg or
// ffprobe missing, the file missing, empty or a folder, not a video, no video stream, a truncated
// or corrupt file, which is any of: ffmpeg exits non-zero; reports an error, or a warning about
// damaged data (a cut AVI or MKV decodes with exit code 0 and says so only on stderr; the
// sample clips of scripts/fetch-data.sh print nothing at all); ends inside a frame; yields no
// frame; or yields more than one frame fewer than the container's header lists (a file cut
// between two packets).
//
// Writing: frames [3,H,W] (or [1,H,W], grey) of one size, values clamped to [0,1] and rounded
// to 8 bits, piped as rgb24 into ffmpeg: H.264 (libx264, yuv420p, CRF 18) when this ffmpeg has
// it, MPEG-4 part 2 (mpeg4, -q:v 2) otherwise; an odd side is padded by repeating the last row
// or column (yuv420p needs even sides), so such a video reads back one pixel larger. lossless:
// exact 8-bit RGB at the frames' size (libx264rgb -qp 0 in .mp4/.mov, FFV1 otherwise).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace steady {

struct VideoInfo {
  int64_t width = 0, height = 0;
  double fps = 0;      // 0 when the stream does not say
  int64_t frames = 0;  // the count the container lists; 0 when it does not say (Matroska)
};

struct VideoReadOptions {
  int64_t max_frames = 0;  // > 0: stop after this many frames (ffmpeg decodes no more)
  int64_t max_side = 0;    // > 0: ffmpeg scales the frames down (area filter) so that the longer
                           //      side is at most this, keeping the aspect ratio
};

struct VideoWriteOptions {
  bool lossless = false;
  int crf = 18;  // libx264 quality when not lossless (0 best .. 51 worst)
};

// Runs a program (argv[0] looked up on PATH, no shell) to its end; its stderr is collected
// into *err. Returns the exit code (128 + signal; 127 when it cannot start).
int run_program(const std::vector<std::string>& argv, std::string* err = nullptr);

// True when both ffmpeg and ffprobe are found on PATH.
bool ffmpeg_available();

VideoInfo probe_video(const std::string& path);
std::vector<Tensor> read_video(const std::string& path, double* fps = nullptr,
                               const VideoReadOptions& opt = {});
// The same, one frame at a time: on_frame(t, frame) is called as each frame is decoded, so
// memory holds one frame whatever the clip's length. on_start (optional) gets the probe's answer
// (the decoded size and fps) before the first frame. Returns the number of frames.
int64_t read_video(const std::string& path, const VideoReadOptions& opt,
                   const std::function<void(int64_t, Tensor)>& on_frame,
                   const std::function<void(const VideoInfo&)>& on_start = nullptr);
void write_video(const std::string& path, const std::vector<Tensor>& frames, double fps,
                 const VideoWriteOptions& opt = {});

// The same, one frame at a time (memory holds one frame): the first write() fixes the size and
// starts ffmpeg, close() finishes the file (the destructor closes too, without reporting errors).
class VideoWriter {
 public:
  VideoWriter(std::string path, double fps, VideoWriteOptions opt = {});
  ~VideoWriter();
  VideoWriter(const VideoWriter&) = delete;
  VideoWriter& operator=(const VideoWriter&) = delete;
  void write(const Tensor& frame);
  void close();
  int64_t frames() const { return frames_; }

 private:
  struct Process;
  std::string path_;
  double fps_;
  VideoWriteOptions opt_;
  std::unique_ptr<Process> process_;
  int64_t frames_ = 0, width_ = 0, height_ = 0, padded_width_ = 0, padded_height_ = 0;
};

}  // namespace steady
