// Reading an image sequence, however it is given:
//   a folder         every image file directly inside it (.exr .hdr .png .jpg), natural order
//   a printf pattern "dir/seq_%04d.exr": the files that match, by number, which must be
//                    consecutive (a gap is an error: temporal metrics need every frame)
//   a multi-part EXR one frame per part (gen_procedural --multipart); a single-part EXR or any
//                    other single image is a one-frame sequence
//   a video file     (.mp4 .avi .mov .mpg .mpeg .mkv .webm) decoded by ffmpeg (data/video.h):
//                    RGB frames in [0,1]; a clear error when ffmpeg is missing or the file is
//                    not a video, truncated or corrupt
// fps comes from the EXR framesPerSecond attribute of the first frame when there is one, or
// from the video stream.
// True motion, when stored beside the sequence (gen_procedural writes it), is read too:
//   folder D or pattern in folder D:  D/flow/flow_NNNN.exr, one per frame
//   multi-part FILE.exr:              FILE.flow.exr, one part per frame
// in the layout of data/metrics.h (dx, dy, valid).
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "data/video.h"
#include "engine/tensor.h"

namespace steady {

enum class SequenceKind { Folder, Pattern, MultipartExr, SingleImage, Video };

struct Sequence {
  SequenceKind kind = SequenceKind::Folder;
  std::string source;              // the spec as given
  std::vector<std::string> files;  // one per frame (folder, pattern); the file otherwise
  std::vector<Tensor> frames;      // [C,H,W] each, all of one shape
  double fps = 0;                  // 0: the source does not say
  std::vector<Tensor> flow;        // [3,H,W] per frame, or empty when no motion is stored
};

struct SequenceReadOptions {
  int channels = 0;        // as read_image: 0 keeps the files' layout, 1, 3 or 4 converts
  bool load_flow = true;   // look for stored motion beside the sequence
  int64_t max_frames = 0;  // > 0: only the first max_frames frames (and their motion)
  int64_t video_max_side = 0;  // video files only, > 0: ffmpeg scales frames down so that the
                               // longer side is at most this (area filter, aspect kept)
};

// What a sequence is, learned without decoding its frames (a video file is probed).
struct SequenceInfo {
  SequenceKind kind = SequenceKind::Folder;
  std::vector<std::string> files;  // folder, pattern: the frames' files (max_frames applied)
  int64_t frames = 0;              // frames that will be read; 0 when unknown (some videos)
  double fps = 0;                  // 0: the source does not say
  bool hdr = false;                // linear radiance (EXR, Radiance HDR), not display values
  std::string flow;                // the stored motion's folder or file, "" when none
};
SequenceInfo probe_sequence(const std::string& spec, const SequenceReadOptions& opt = {});

// Reads a sequence one frame at a time, with the checks of read_sequence: on_frame(t, frame,
// flow) in frame order, flow [3,H,W] or undefined when no motion is stored. Memory holds one
// frame whatever the length. `probed`: probe_sequence's answer when the caller has it already.
// Returns the number of frames.
using FrameCallback = std::function<void(int64_t, const Tensor&, const Tensor&)>;
int64_t for_each_frame(const std::string& spec, const SequenceReadOptions& opt,
                       const FrameCallback& on_frame, const SequenceInfo* probed = nullptr);

// Which form spec has (the file system is consulted: a folder, a file's first bytes).
SequenceKind sequence_kind(const std::string& spec);
bool is_printf_pattern(const std::string& spec);
bool has_video_extension(const std::string& path);

Sequence read_sequence(const std::string& spec, const SequenceReadOptions& opt = {});

// The frame files a printf pattern names, in frame order (consecutive numbers).
std::vector<std::string> expand_pattern(const std::string& pattern);

// Where read_sequence looks for stored motion of a sequence spec.
std::string flow_location(const std::string& spec);

// A video file's frames [3,H,W] through ffmpeg (data/video.h); *fps from the stream (0 when
// it does not say).
std::vector<Tensor> read_video_frames(const std::string& path, double* fps,
                                      const VideoReadOptions& opt = {});

}  // namespace steady
