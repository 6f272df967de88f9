#include "data/sequence.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

#include "data/image_io.h"

namespace steady {
namespace fs = std::filesystem;

namespace {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// "dir/seq_%04d.exr" -> prefix "seq_", width 4, zero padded, suffix ".exr", folder "dir".
struct Pattern {
  std::string folder, prefix, suffix;
  int width = 0;
  bool zero_pad = false;
};

bool parse_pattern(const std::string& spec, Pattern* out) {
  const fs::path p(spec);
  const std::string name = p.filename().string();
  const size_t pc = name.find('%');
  if (pc == std::string::npos) return false;
  size_t i = pc + 1;
  Pattern pat;
  if (i < name.size() && name[i] == '0') pat.zero_pad = true, ++i;
  while (i < name.size() && std::isdigit(static_cast<unsigned char>(name[i])))
    pat.width = pat.width * 10 + (name[i++] - '0');
  if (i >= name.size() || name[i] != 'd') return false;
  pat.prefix = name.substr(0, pc);
  pat.suffix = name.substr(i + 1);
  if (pat.suffix.find('%') != std::string::npos || pat.width > 12) return false;
  pat.folder = p.parent_path().string();
  if (pat.folder.empty()) pat.folder = ".";
  if (out) *out = pat;
  return true;
}

// The frame number a file name encodes under the pattern, or -1.
int64_t match_number(const Pattern& pat, const std::string& name) {
  if (name.size() <= pat.prefix.size() + pat.suffix.size()) return -1;
  if (name.compare(0, pat.prefix.size(), pat.prefix) != 0) return -1;
  if (name.compare(name.size() - pat.suffix.size(), pat.suffix.size(), pat.suffix) != 0) return -1;
  const std::string digits =
      name.substr(pat.prefix.size(), name.size() - pat.prefix.size() - pat.suffix.size());
  if (digits.empty() || digits.size() > 12) return -1;
  for (char c : digits)
    if (!std::isdigit(static_cast<unsigned char>(c))) return -1;
  // What printf would have written for this number must be exactly these digits.
  const int64_t v = std::stoll(digits);
  std::string printed = std::to_string(v);
  const size_t w = static_cast<size_t>(pat.width);
  if (printed.size() < w) printed = std::string(w - printed.size(), pat.zero_pad ? '0' : ' ') + printed;
  return printed == digits ? v : -1;
}

double fps_of(const std::string& file) {
  if (!is_exr_file(file)) return 0;
  return read_exr_info(file).fps;
}

// How many frames of motion are stored at loc (a folder of flow_NNNN.exr or a multi-part EXR).
size_t stored_flow_frames(const std::string& loc) {
  std::error_code ec;
  if (fs::is_directory(loc, ec)) return expand_pattern((fs::path(loc) / "flow_%04d.exr").string()).size();
  return static_cast<size_t>(exr_part_count(loc));
}

Tensor read_flow_frame(const std::string& loc, int64_t t) {
  std::error_code ec;
  char name[32];
  std::snprintf(name, sizeof name, "flow_%04lld.exr", static_cast<long long>(t));
  // Signed data: no clamp.
  return fs::is_directory(loc, ec) ? read_exr((fs::path(loc) / name).string(), 0, false)
                                   : read_exr(loc, static_cast<int>(t), false);
}

}  // namespace

bool is_printf_pattern(const std::string& spec) { return parse_pattern(spec, nullptr); }

bool has_video_extension(const std::string& path) {
  const std::string e = lower(fs::path(path).extension().string());
  return e == ".mp4" || e == ".avi" || e == ".mov" || e == ".mpg" || e == ".mpeg" ||
         e == ".mkv" || e == ".webm";
}

SequenceKind sequence_kind(const std::string& spec) {
  std::error_code ec;
  if (fs::is_directory(spec, ec)) return SequenceKind::Folder;  // even one named seq_%d
  if (is_printf_pattern(spec)) return SequenceKind::Pattern;
  if (!fs::exists(spec, ec)) fail("cannot read sequence '", spec, "': no such file or folder");
  if (has_video_extension(spec)) return SequenceKind::Video;
  if (is_exr_file(spec)) return SequenceKind::MultipartExr;
  return SequenceKind::SingleImage;
}

std::vector<std::string> expand_pattern(const std::string& pattern) {
  Pattern pat;
  STEADY_CHECK(parse_pattern(pattern, &pat), "'", pattern,
               "' is not a frame pattern (expected one %d or %0Nd, e.g. seq_%04d.exr)");
  std::error_code ec;
  STEADY_CHECK(fs::is_directory(pat.folder, ec), "cannot read sequence '", pattern, "': folder '",
               pat.folder, "' does not exist");
  std::map<int64_t, std::string> found;
  for (fs::directory_iterator it(pat.folder, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    const int64_t n = match_number(pat, name);
    if (n >= 0) found[n] = it->path().string();
  }
  STEADY_CHECK(!ec, "cannot list '", pat.folder, "': ", ec.message());
  STEADY_CHECK(!found.empty(), "cannot read sequence '", pattern, "': no file matches");
  std::vector<std::string> files;
  int64_t expect = found.begin()->first;
  for (const auto& [n, path] : found) {
    STEADY_CHECK(n == expect, "cannot read sequence '", pattern, "': frame ", expect,
                 " is missing (the files jump from ", expect - 1, " to ", n, ")");
    files.push_back(path);
    ++expect;
  }
  return files;
}

std::string flow_location(const std::string& spec) {
  std::error_code ec;
  if (fs::is_directory(spec, ec)) return (fs::path(spec) / "flow").string();
  Pattern pat;
  if (parse_pattern(spec, &pat)) return (fs::path(pat.folder) / "flow").string();
  if (lower(fs::path(spec).extension().string()) == ".exr") {
    fs::path p(spec);
    return p.replace_extension(".flow.exr").string();
  }
  return {};
}

std::vector<Tensor> read_video_frames(const std::string& path, double* fps,
                                      const VideoReadOptions& opt) {
  return read_video(path, fps, opt);
}

SequenceInfo probe_sequence(const std::string& spec, const SequenceReadOptions& opt) {
  STEADY_CHECK(opt.max_frames >= 0, "cannot read sequence '", spec, "': max_frames must be >= 0, got ",
               opt.max_frames);
  SequenceInfo info;
  info.kind = sequence_kind(spec);
  const auto keep = [&](int64_t n) { return opt.max_frames > 0 ? std::min(n, opt.max_frames) : n; };
  switch (info.kind) {
    case SequenceKind::Pattern:
      info.files = expand_pattern(spec);
      break;
    case SequenceKind::Folder:
      info.files = list_images(spec);
      STEADY_CHECK(!info.files.empty(), "cannot read sequence '", spec,
                   "': the folder holds no image files (.exr .hdr .png .jpg)");
      break;
    case SequenceKind::MultipartExr:
      info.frames = keep(exr_part_count(spec));
      info.hdr = true;
      info.fps = read_exr_info(spec).fps;
      break;
    case SequenceKind::SingleImage:
      info.files = {spec};
      break;
    case SequenceKind::Video: {
      const VideoInfo v = probe_video(spec);
      info.frames = v.frames > 0 ? keep(v.frames) : opt.max_frames;
      info.fps = v.fps;
      return info;  // no stored motion for videos
    }
  }
  if (!info.files.empty()) {
    info.files.resize(static_cast<size_t>(keep(static_cast<int64_t>(info.files.size()))));
    info.frames = static_cast<int64_t>(info.files.size());
    info.hdr = has_hdr_extension(info.files[0]) || is_exr_file(info.files[0]);
    info.fps = fps_of(info.files[0]);
  }
  const std::string loc = opt.load_flow ? flow_location(spec) : std::string();
  std::error_code ec;
  if (!loc.empty() && fs::exists(loc, ec)) {
    info.flow = loc;
    const size_t stored = stored_flow_frames(loc);
    const size_t frames = static_cast<size_t>(info.frames);
    STEADY_CHECK(opt.max_frames > 0 ? stored >= frames : stored == frames, "sequence '", spec,
                 "': the motion in '", loc, "' has ", stored, " frames, the sequence ", frames);
  }
  return info;
}

int64_t for_each_frame(const std::string& spec, const SequenceReadOptions& opt,
                       const FrameCallback& on_frame, const SequenceInfo* probed) {
  const SequenceInfo info = probed ? *probed : probe_sequence(spec, opt);
  Shape first;
  const auto deliver = [&](int64_t t, Tensor frame, const std::string& name) {
    frame = convert_channels(frame, opt.channels, "'" + spec + "'");
    if (t == 0) first = frame.shape();
    STEADY_CHECK(frame.shape() == first, "sequence '", spec, "': frame ", t, " ('", name, "') is ",
                 shape_str(frame.shape()), " but frame 0 is ", shape_str(first));
    Tensor flow;
    if (!info.flow.empty()) {
      flow = read_flow_frame(info.flow, t);
      STEADY_CHECK(flow.dim() == 3 && flow.size(0) == 3, "sequence '", spec, "': the motion in '",
                   info.flow, "' is not 3-channel (dx, dy, valid)");
      STEADY_CHECK(flow.size(1) == frame.size(1) && flow.size(2) == frame.size(2), "sequence '",
                   spec, "': the stored motion is ", shape_str(flow.shape()),
                   " but the frames are ", shape_str(frame.shape()));
    }
    on_frame(t, frame, flow);
  };
  if (info.kind == SequenceKind::Video) {
    VideoReadOptions vopt;
    vopt.max_frames = opt.max_frames;
    vopt.max_side = opt.video_max_side;
    return read_video(spec, vopt, [&](int64_t t, Tensor f) { deliver(t, std::move(f), "video frame"); });
  }
  if (info.kind == SequenceKind::MultipartExr) {
    for (int64_t t = 0; t < info.frames; ++t)
      deliver(t, read_exr(spec, static_cast<int>(t), true), "part " + std::to_string(t));
    return info.frames;
  }
  for (int64_t t = 0; t < info.frames; ++t)
    deliver(t, read_image(info.files[t], 0), info.files[t]);
  return info.frames;
}

Sequence read_sequence(const std::string& spec, const SequenceReadOptions& opt) {
  const SequenceInfo info = probe_sequence(spec, opt);
  Sequence seq;
  seq.source = spec;
  seq.kind = info.kind;
  seq.files = info.files.empty() ? std::vector<std::string>{spec} : info.files;
  seq.fps = info.fps;
  for_each_frame(spec, opt, [&](int64_t, const Tensor& frame, const Tensor& flow) {
    seq.frames.push_back(frame);
    if (flow.defined()) seq.flow.push_back(flow);
  }, &info);
  return seq;
}

}  // namespace steady
