#include "data/sequence.h"

#include <algorithm>
#include <cctype>
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

bool is_exr_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  unsigned char m[4] = {0, 0, 0, 0};
  in.read(reinterpret_cast<char*>(m), 4);
  return in.gcount() == 4 && m[0] == 0x76 && m[1] == 0x2f && m[2] == 0x31 && m[3] == 0x01;
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

// Same shape for every frame, named in the error.
void check_shapes(const std::vector<Tensor>& frames, const std::vector<std::string>& names,
                  const std::string& spec) {
  for (size_t t = 1; t < frames.size(); ++t)
    STEADY_CHECK(frames[t].shape() == frames[0].shape(), "sequence '", spec, "': frame ", t, " ('",
                 t < names.size() ? names[t] : std::string("part ") + std::to_string(t), "') is ",
                 shape_str(frames[t].shape()), " but frame 0 is ", shape_str(frames[0].shape()));
}

double fps_of(const std::string& file) {
  if (!is_exr_file(file)) return 0;
  return read_exr_info(file).fps;
}

std::vector<Tensor> read_files(const std::vector<std::string>& files, int channels) {
  std::vector<Tensor> frames;
  frames.reserve(files.size());
  for (const std::string& f : files) frames.push_back(read_image(f, channels));
  return frames;
}

// The first n parts of a multi-part EXR (one open when that is all of them).
std::vector<Tensor> read_exr_parts_upto(const std::string& path, size_t n, bool clamp_negative) {
  if (n == static_cast<size_t>(exr_part_count(path))) return read_exr_parts(path, clamp_negative);
  std::vector<Tensor> parts;
  for (size_t i = 0; i < n; ++i) parts.push_back(read_exr(path, static_cast<int>(i), clamp_negative));
  return parts;
}

// The stored motion of the first `frames` frames; the store must cover the whole sequence
// (all of it when max_frames is 0, at least `frames` otherwise).
std::vector<Tensor> read_flow(const std::string& spec, size_t frames, int64_t max_frames) {
  const std::string loc = flow_location(spec);
  std::error_code ec;
  if (loc.empty() || !fs::exists(loc, ec)) return {};
  std::vector<Tensor> flow;
  size_t stored = 0;
  if (fs::is_directory(loc, ec)) {
    std::vector<std::string> files = expand_pattern((fs::path(loc) / "flow_%04d.exr").string());
    stored = files.size();
    files.resize(std::min(files.size(), frames));
    for (const std::string& f : files) flow.push_back(read_exr(f, 0, false));  // signed: no clamp
  } else {
    stored = static_cast<size_t>(exr_part_count(loc));
    flow = read_exr_parts_upto(loc, std::min(stored, frames), false);
  }
  STEADY_CHECK(max_frames > 0 ? stored >= frames : stored == frames, "sequence '", spec,
               "': the motion in '", loc, "' has ", stored, " frames, the sequence ", frames);
  for (const Tensor& f : flow)
    STEADY_CHECK(f.dim() == 3 && f.size(0) == 3, "sequence '", spec, "': the motion in '", loc,
                 "' is not 3-channel (dx, dy, valid)");
  return flow;
}

}  // namespace

bool is_printf_pattern(const std::string& spec) { return parse_pattern(spec, nullptr); }

bool has_video_extension(const std::string& path) {
  const std::string e = lower(fs::path(path).extension().string());
  return e == ".mp4" || e == ".avi" || e == ".mov" || e == ".mpg" || e == ".mpeg" ||
         e == ".mkv" || e == ".webm";
}

SequenceKind sequence_kind(const std::string& spec) {
  if (is_printf_pattern(spec)) return SequenceKind::Pattern;
  std::error_code ec;
  if (fs::is_directory(spec, ec)) return SequenceKind::Folder;
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
  Pattern pat;
  if (parse_pattern(spec, &pat)) return (fs::path(pat.folder) / "flow").string();
  std::error_code ec;
  if (fs::is_directory(spec, ec)) return (fs::path(spec) / "flow").string();
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

Sequence read_sequence(const std::string& spec, const SequenceReadOptions& opt) {
  STEADY_CHECK(opt.max_frames >= 0, "cannot read sequence '", spec, "': max_frames must be >= 0, got ",
               opt.max_frames);
  Sequence seq;
  seq.source = spec;
  seq.kind = sequence_kind(spec);
  switch (seq.kind) {
    case SequenceKind::Pattern:
      seq.files = expand_pattern(spec);
      break;
    case SequenceKind::Folder:
      seq.files = list_images(spec);
      STEADY_CHECK(!seq.files.empty(), "cannot read sequence '", spec,
                   "': the folder holds no image files (.exr .hdr .png .jpg)");
      break;
    case SequenceKind::MultipartExr:
    case SequenceKind::SingleImage:
      seq.files = {spec};
      break;
    case SequenceKind::Video: {
      VideoReadOptions vopt;
      vopt.max_frames = opt.max_frames;
      vopt.max_side = opt.video_max_side;
      seq.files = {spec};
      seq.frames = read_video_frames(spec, &seq.fps, vopt);
      for (Tensor& f : seq.frames) f = convert_channels(f, opt.channels, "'" + spec + "'");
      return seq;
    }
  }
  const auto keep = [&](size_t n) {
    return opt.max_frames > 0 ? std::min(n, static_cast<size_t>(opt.max_frames)) : n;
  };
  if (seq.kind != SequenceKind::MultipartExr) seq.files.resize(keep(seq.files.size()));
  if (seq.kind == SequenceKind::MultipartExr) {
    seq.frames = read_exr_parts_upto(spec, keep(static_cast<size_t>(exr_part_count(spec))), true);
    for (Tensor& f : seq.frames) f = convert_channels(f, opt.channels, "'" + spec + "'");
  } else {
    seq.frames = read_files(seq.files, opt.channels);
  }
  check_shapes(seq.frames, seq.kind == SequenceKind::MultipartExr ? std::vector<std::string>{}
                                                                   : seq.files, spec);
  seq.fps = fps_of(seq.files[0]);
  if (opt.load_flow) {
    seq.flow = read_flow(spec, seq.frames.size(), opt.max_frames);
    for (const Tensor& f : seq.flow)
      STEADY_CHECK(f.size(1) == seq.frames[0].size(1) && f.size(2) == seq.frames[0].size(2),
                   "sequence '", spec, "': the stored motion is ", shape_str(f.shape()),
                   " but the frames are ", shape_str(seq.frames[0].shape()));
  }
  return seq;
}

}  // namespace steady
