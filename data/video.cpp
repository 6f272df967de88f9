#include "data/video.h"

#include <fcntl.h>
#include <pthread.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <sstream>

extern char** environ;

namespace steady {
namespace fs = std::filesystem;

namespace {

const char* kInstallHint = "needs ffmpeg: run scripts/deps.sh or apt-get install ffmpeg";
constexpr size_t kMaxStderr = 64 * 1024;

bool executable_file(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(p.c_str(), X_OK) == 0;
}

// The program's path on PATH, or "" (what posix_spawnp would run).
std::string find_program(const std::string& name) {
  const char* env = std::getenv("PATH");
  const std::string path = env ? env : "/bin:/usr/bin";  // posix_spawnp's default
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    const std::string dir = end > start ? path.substr(start, end - start) : std::string(".");
    const std::string candidate = dir + "/" + name;
    if (executable_file(candidate)) return candidate;
    start = end + 1;
  }
  return {};
}

// "[avi @ 0x55d0c3a0b240] Packet corrupt" -> "avi: Packet corrupt" (the address differs on
// every run), trailing blanks dropped.
std::string clean_ffmpeg_line(std::string line) {
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  const size_t close = line.find(']'), at = line.find(" @ 0x");
  if (!line.empty() && line[0] == '[' && close != std::string::npos && at != std::string::npos &&
      at < close)
    line = line.substr(1, at - 1) + ":" + line.substr(close + 1);
  return line;
}

// The first non-empty line of a program's stderr, for a one-line error.
std::string first_line(const std::string& s) {
  std::istringstream in(s);
  std::string line;
  while (std::getline(in, line)) {
    line = clean_ffmpeg_line(line);
    if (!line.empty()) return line;
  }
  return {};
}

// A child process with pipes to its stdin (optional), stdout (optional) and stderr.
struct Child {
  pid_t pid = -1;
  int in = -1, out = -1, err = -1;  // the parent's ends; -1 when not piped

  ~Child() {
    close_fd(in);
    close_fd(out);
    close_fd(err);
    if (pid > 0) {  // only on an exception path: do not leave a zombie or a running ffmpeg
      ::kill(pid, SIGKILL);
      int st;
      while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
      }
    }
  }
  static void close_fd(int& fd) {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
  // Exit code, or 128 + signal number.
  int wait() {
    close_fd(in);
    int st = 0;
    pid_t r;
    while ((r = ::waitpid(pid, &st, 0)) < 0 && errno == EINTR) {
    }
    pid = -1;
    if (r < 0) return 127;
    if (WIFEXITED(st)) return WEXITSTATUS(st);
    if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
    return 127;
  }
};

void make_pipe(int fds[2], const char* what) {
  if (::pipe2(fds, O_CLOEXEC) != 0) fail(what, ": cannot create a pipe: ", std::strerror(errno));
}

// Starts argv (argv[0] looked up on PATH) without a shell. The child's stdin is a pipe or
// /dev/null, its stdout a pipe or /dev/null, its stderr a pipe. Pipes are close-on-exec, so
// a child never holds another one's ends (dup2 clears the flag on the child's 0, 1, 2).
std::unique_ptr<Child> spawn(const std::vector<std::string>& argv, bool pipe_in, bool pipe_out,
                             const std::string& what) {
  int in_p[2] = {-1, -1}, out_p[2] = {-1, -1}, err_p[2] = {-1, -1};
  make_pipe(err_p, what.c_str());
  if (pipe_in) make_pipe(in_p, what.c_str());
  if (pipe_out) make_pipe(out_p, what.c_str());
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  if (pipe_in)
    posix_spawn_file_actions_adddup2(&fa, in_p[0], 0);
  else
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  if (pipe_out)
    posix_spawn_file_actions_adddup2(&fa, out_p[1], 1);
  else
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, err_p[1], 2);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  auto child = std::make_unique<Child>();
  const int rc = ::posix_spawnp(&child->pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  for (int fd : {in_p[0], out_p[1], err_p[1]})
    if (fd >= 0) ::close(fd);
  child->in = in_p[1];
  child->out = out_p[0];
  child->err = err_p[0];
  if (rc != 0) {
    child->pid = -1;
    if (rc == ENOENT) fail(what, ": ", argv[0], " is not on PATH; videos ", kInstallHint);
    fail(what, ": cannot start ", argv[0], ": ", std::strerror(rc));
  }
  return child;
}

// Appends what is readable on fd; false at end of file.
bool drain(int& fd, std::string* into, const std::function<void(const char*, size_t)>& sink) {
  char buf[1 << 16];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof(buf))) < 0 && errno == EINTR) {
  }
  if (n <= 0) {  // end of file, or an error that ends the stream the same way
    Child::close_fd(fd);
    return false;
  }
  if (into) {
    if (into->size() < kMaxStderr) into->append(buf, std::min<size_t>(n, kMaxStderr - into->size()));
  } else {
    sink(buf, static_cast<size_t>(n));
  }
  return true;
}

// Reads the child's stdout into `sink` and its stderr into `err` until both close.
void pump_output(Child& c, std::string& err, const std::function<void(const char*, size_t)>& sink) {
  while (c.out >= 0 || c.err >= 0) {
    pollfd p[2];
    int n = 0, out_i = -1, err_i = -1;
    if (c.out >= 0) out_i = n, p[n++] = {c.out, POLLIN, 0};
    if (c.err >= 0) err_i = n, p[n++] = {c.err, POLLIN, 0};
    if (::poll(p, n, -1) < 0) {
      if (errno == EINTR) continue;
      fail("poll failed: ", std::strerror(errno));
    }
    if (out_i >= 0 && p[out_i].revents) drain(c.out, nullptr, sink);
    if (err_i >= 0 && p[err_i].revents) drain(c.err, &err, sink);
  }
}

// Blocks SIGPIPE in this thread while writing to a child that may die, so a write gets EPIPE
// instead of killing the program; a SIGPIPE raised meanwhile is consumed before unblocking.
class SigpipeGuard {
 public:
  SigpipeGuard() {
    sigemptyset(&pipe_set_);
    sigaddset(&pipe_set_, SIGPIPE);
    sigset_t pending;
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe_set_, &old_);
  }
  ~SigpipeGuard() {
    if (!was_pending_) {
      sigset_t pending;
      sigpending(&pending);
      if (sigismember(&pending, SIGPIPE) == 1) {
        timespec zero{0, 0};
        sigtimedwait(&pipe_set_, nullptr, &zero);
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }

 private:
  sigset_t pipe_set_, old_;
  bool was_pending_ = false;
};

// Writes data to the child's stdin while collecting its stderr; false when the child closed
// its stdin early (it failed: its stderr says why).
bool pump_input(Child& c, std::string& err, const std::vector<unsigned char>& data) {
  size_t done = 0;
  while (done < data.size()) {
    pollfd p[2];
    int n = 0;
    p[n++] = {c.in, POLLOUT, 0};
    if (c.err >= 0) p[n++] = {c.err, POLLIN, 0};
    if (::poll(p, n, -1) < 0) {
      if (errno == EINTR) continue;
      fail("poll failed: ", std::strerror(errno));
    }
    if (n == 2 && p[1].revents) drain(c.err, &err, nullptr);
    if (p[0].revents & (POLLERR | POLLHUP)) return false;
    if (p[0].revents & POLLOUT) {
      const ssize_t w = ::write(c.in, data.data() + done, std::min<size_t>(data.size() - done, 1 << 16));
      if (w < 0) {
        if (errno == EINTR || errno == EAGAIN) continue;
        return false;
      }
      done += static_cast<size_t>(w);
    }
  }
  return true;
}

std::string video_error_prefix(const std::string& verb, const std::string& path) {
  return "cannot " + verb + " video '" + path + "'";
}

void require_ffmpeg(const std::string& verb, const std::string& path) {
  for (const char* prog : {"ffmpeg", "ffprobe"})
    if (find_program(prog).empty())
      fail(video_error_prefix(verb, path), ": ", verb == "read" ? "reading" : "writing", " videos ",
           kInstallHint, " (", prog, " is not on PATH)");
}

void require_video_file(const std::string& path) {
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if (ec || !fs::exists(st)) fail(video_error_prefix("read", path), ": no such file");
  if (fs::is_directory(st)) fail(video_error_prefix("read", path), ": it is a folder, not a file");
  if (fs::is_regular_file(st) && fs::file_size(path, ec) == 0 && !ec)
    fail(video_error_prefix("read", path), ": the file is empty");
}

// "file:" keeps ffmpeg from reading "a:b.mp4" as protocol "a" or "-x.mp4" as an option.
std::string ffmpeg_name(const std::string& path) { return "file:" + path; }

double parse_rate(const std::string& s) {
  const size_t slash = s.find('/');
  try {
    if (slash == std::string::npos) return std::stod(s);
    const double num = std::stod(s.substr(0, slash)), den = std::stod(s.substr(slash + 1));
    return den > 0 ? num / den : 0.0;
  } catch (const std::exception&) {
    return 0.0;
  }
}

std::unique_ptr<Child> start_probe(const std::string& path) {
  return spawn({"ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                "stream=width,height,r_frame_rate,avg_frame_rate,nb_frames", "-of",
                "default=noprint_wrappers=1", ffmpeg_name(path)},
               false, true, video_error_prefix("read", path));
}

// Collects and parses a started ffprobe's answer.
VideoInfo finish_probe(Child& c, const std::string& path) {
  std::string out, err;
  pump_output(c, err, [&](const char* p, size_t n) { out.append(p, n); });
  const int rc = c.wait();
  if (rc != 0) {
    const std::string why = first_line(err);
    fail(video_error_prefix("read", path), ": not a video ffmpeg can read (ffprobe: ",
         why.empty() ? "exit code " + std::to_string(rc) : why, ")");
  }
  VideoInfo info;
  double r_rate = 0, avg_rate = 0;
  std::istringstream lines(out);
  std::string line;
  while (std::getline(lines, line)) {
    const size_t eq = line.find('=');
    if (eq == std::string::npos) continue;
    const std::string key = line.substr(0, eq), value = line.substr(eq + 1);
    try {
      if (key == "width") info.width = std::stoll(value);
      if (key == "height") info.height = std::stoll(value);
      if (key == "nb_frames" && value != "N/A") info.frames = std::stoll(value);
    } catch (const std::exception&) {
    }
    if (key == "r_frame_rate") r_rate = parse_rate(value);
    if (key == "avg_frame_rate") avg_rate = parse_rate(value);
  }
  if (info.width <= 0 || info.height <= 0)
    fail(video_error_prefix("read", path), ": the file has no video stream");
  if (info.width > (1 << 16) || info.height > (1 << 16))
    fail(video_error_prefix("read", path), ": implausible size ", info.width, "x", info.height);
  info.fps = std::isfinite(r_rate) && r_rate > 0 ? r_rate : (std::isfinite(avg_rate) && avg_rate > 0 ? avg_rate : 0.0);
  return info;
}

// 8-bit rgb24, interleaved, of one frame [C,H,W] (C 1 or 3), clamped and rounded; odd sides
// are padded by repeating the last row / column.
void append_rgb24(std::vector<unsigned char>& out, const Tensor& frame, int64_t pw, int64_t ph) {
  const Tensor f = frame.dtype() == DType::F32 ? frame : frame.to(DType::F32);
  const int64_t c_n = f.size(0), h = f.size(1), w = f.size(2), plane = h * w;
  const float* p = f.data<float>();
  for (int64_t y = 0; y < ph; ++y)
    for (int64_t x = 0; x < pw; ++x) {
      const int64_t k = std::min(y, h - 1) * w + std::min(x, w - 1);
      for (int64_t c = 0; c < 3; ++c) {
        const float v = p[(c_n == 1 ? 0 : c) * plane + k];
        const float cl = std::isfinite(v) ? std::min(1.0f, std::max(0.0f, v)) : 0.0f;
        out.push_back(static_cast<unsigned char>(std::lround(cl * 255.0f)));
      }
    }
}

// ffmpeg's report of damage, or "": any error-level line ("[error]", "[fatal]", "[panic]"
// with -v level+warning), or a warning about damaged data. A cut AVI or MKV decodes with exit
// code 0 and says so only here; other warnings (deprecated formats, timestamps) are harmless.
std::string damage_report(const std::string& err) {
  static const char* kDamage[] = {"corrupt", "truncat", "prematurely", "partial", "invalid",
                                  "missing", "error"};
  std::istringstream in(err);
  std::string line;
  while (std::getline(in, line)) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    std::string low = line;
    for (char& ch : low) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    const bool severe = low.find("[error]") != std::string::npos ||
                        low.find("[fatal]") != std::string::npos ||
                        low.find("[panic]") != std::string::npos;
    bool damage = false;
    if (low.find("[warning]") != std::string::npos)
      for (const char* k : kDamage) damage = damage || low.find(k, low.find("[warning]") + 9) != std::string::npos;
    if (severe || damage) {
      for (const char* tag : {"[error] ", "[fatal] ", "[panic] ", "[warning] "}) {
        const size_t at = line.find(tag);
        if (at != std::string::npos) line.erase(at, std::strlen(tag));
      }
      return clean_ffmpeg_line(line);
    }
  }
  return {};
}

struct Encoders {
  bool x264 = false, x264rgb = false;
};

const Encoders& ffmpeg_encoders() {
  static const Encoders enc = [] {
    Encoders e;
    try {
      std::unique_ptr<Child> c = spawn({"ffmpeg", "-hide_banner", "-encoders"}, false, true, "ffmpeg -encoders");
      std::string out, err;
      pump_output(*c, err, [&](const char* p, size_t n) { out.append(p, n); });
      c->wait();
      e.x264 = out.find(" libx264 ") != std::string::npos;
      e.x264rgb = out.find(" libx264rgb ") != std::string::npos;
    } catch (const Error&) {
    }
    return e;
  }();
  return enc;
}

std::string lower_extension(const std::string& path) {
  std::string e = fs::path(path).extension().string();
  for (char& ch : e) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return e;
}

std::string rate_string(double fps) {
  std::ostringstream s;
  s.precision(12);
  s << fps;
  return s.str();
}

}  // namespace

int run_program(const std::vector<std::string>& argv, std::string* err) {
  std::string collected;
  int rc = 127;
  try {
    std::unique_ptr<Child> c = spawn(argv, false, false, argv.empty() ? "run" : argv[0]);
    pump_output(*c, collected, nullptr);
    rc = c->wait();
  } catch (const Error& e) {
    collected = e.what();
  }
  if (err) *err = collected;
  return rc;
}

bool ffmpeg_available() { return !find_program("ffmpeg").empty() && !find_program("ffprobe").empty(); }

VideoInfo probe_video(const std::string& path) {
  require_video_file(path);
  require_ffmpeg("read", path);
  return finish_probe(*start_probe(path), path);
}

std::vector<Tensor> read_video(const std::string& path, double* fps, const VideoReadOptions& opt) {
  if (fps) *fps = 0;
  std::vector<Tensor> frames;
  double rate = 0;
  read_video(path, opt, [&](int64_t, Tensor f) { frames.push_back(std::move(f)); },
             [&](const VideoInfo& info) { rate = info.fps; });
  if (fps) *fps = rate;
  return frames;
}

int64_t read_video(const std::string& path, const VideoReadOptions& opt,
                   const std::function<void(int64_t, Tensor)>& on_frame,
                   const std::function<void(const VideoInfo&)>& on_start) {
  STEADY_CHECK(opt.max_frames >= 0 && opt.max_side >= 0, video_error_prefix("read", path),
               ": max_frames and max_side must be >= 0");
  require_video_file(path);
  require_ffmpeg("read", path);
  // ffprobe and ffmpeg start together (each costs a process start-up of ~0.1 s); ffmpeg blocks
  // on its full pipe until the probe's answer, which fixes the frame size, is in.
  std::unique_ptr<Child> probe = start_probe(path);
  std::vector<std::string> argv = {"ffmpeg", "-nostdin", "-v", "level+warning", "-noautorotate",
                                   "-i", ffmpeg_name(path), "-map", "0:v:0", "-an", "-sn"};
  if (opt.max_frames > 0) argv.insert(argv.end(), {"-frames:v", std::to_string(opt.max_frames)});
  const auto with_output = [](std::vector<std::string> a) {
    a.insert(a.end(), {"-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"});
    return a;
  };
  std::unique_ptr<Child> c;
  if (opt.max_side == 0) c = spawn(with_output(argv), false, true, video_error_prefix("read", path));
  const VideoInfo info = finish_probe(*probe, path);
  int64_t w = info.width, h = info.height;
  if (!c) {
    if (std::max(w, h) > opt.max_side) {
      const double s = static_cast<double>(opt.max_side) / static_cast<double>(std::max(w, h));
      w = std::max<int64_t>(1, std::llround(w * s));
      h = std::max<int64_t>(1, std::llround(h * s));
      argv.insert(argv.end(), {"-vf", "scale=" + std::to_string(w) + ":" + std::to_string(h) + ":flags=area"});
    }
    c = spawn(with_output(argv), false, true, video_error_prefix("read", path));
  }
  if (on_start) {
    VideoInfo decoded = info;
    decoded.width = w, decoded.height = h;
    on_start(decoded);
  }
  const int64_t plane = w * h;
  const size_t frame_bytes = static_cast<size_t>(plane) * 3;
  std::vector<unsigned char> partial;
  partial.reserve(frame_bytes);
  int64_t count = 0;
  std::string err;
  pump_output(*c, err, [&](const char* p, size_t n) {
    while (n > 0) {
      const size_t take = std::min(n, frame_bytes - partial.size());
      partial.insert(partial.end(), p, p + take);
      p += take;
      n -= take;
      if (partial.size() < frame_bytes) continue;
      if (opt.max_frames == 0 || count < opt.max_frames) {
        Tensor t = Tensor::empty({3, h, w});
        float* o = t.data<float>();
        for (int64_t k = 0; k < plane; ++k)
          for (int64_t ch = 0; ch < 3; ++ch) o[ch * plane + k] = partial[k * 3 + ch] * (1.0f / 255.0f);
        on_frame(count++, std::move(t));
      }
      partial.clear();
    }
  });
  const int rc = c->wait();
  const std::string prefix = video_error_prefix("read", path);
  if (rc != 0) {
    const std::string why = damage_report(err).empty() ? first_line(err) : damage_report(err);
    fail(prefix, ": ffmpeg failed (", why.empty() ? "exit code " + std::to_string(rc) : why,
         "): truncated or corrupt?");
  }
  const std::string damage = damage_report(err);
  if (!damage.empty()) fail(prefix, ": truncated or corrupt (ffmpeg: ", damage, ")");
  if (!partial.empty())
    fail(prefix, ": truncated or corrupt (the stream ends inside frame ", count, ")");
  if (count == 0) fail(prefix, ": truncated or corrupt (ffmpeg decoded no frame)");
  // A file cut between two packets decodes without a word; its header still counts the frames
  // it had. One frame of slack: an MP4 edit list can hide one.
  const int64_t expected = opt.max_frames > 0 ? std::min(opt.max_frames, info.frames) : info.frames;
  if (expected > 0 && count + 1 < expected)
    fail(prefix, ": truncated (the container lists ", info.frames, " frames, ffmpeg decoded ", count, ")");
  return count;
}

void write_video(const std::string& path, const std::vector<Tensor>& frames, double fps,
                 const VideoWriteOptions& opt) {
  STEADY_CHECK(!frames.empty(), video_error_prefix("write", path), ": no frames to write");
  VideoWriter writer(path, fps, opt);
  for (const Tensor& f : frames) writer.write(f);
  writer.close();
}

struct VideoWriter::Process {
  std::unique_ptr<Child> child;
  std::string err;
  bool complete = true;
};

VideoWriter::VideoWriter(std::string path, double fps, VideoWriteOptions opt)
    : path_(std::move(path)), fps_(fps), opt_(opt) {
  const std::string prefix = video_error_prefix("write", path_);
  STEADY_CHECK(std::isfinite(fps) && fps > 0 && fps <= 1000, prefix, ": fps must be in (0, 1000], got ", fps);
  STEADY_CHECK(opt.crf >= 0 && opt.crf <= 51, prefix, ": crf must be in [0, 51], got ", opt.crf);
  require_ffmpeg("write", path_);
}

VideoWriter::~VideoWriter() {
  try {
    close();
  } catch (const Error&) {
  }
}

void VideoWriter::write(const Tensor& f) {
  const std::string prefix = video_error_prefix("write", path_);
  STEADY_CHECK(f.defined() && f.dim() == 3 && (f.size(0) == 1 || f.size(0) == 3) &&
                   f.device() == Device::CPU,
               prefix, ": frame ", frames_, " must be a CPU tensor [3,H,W] or [1,H,W], got ",
               f.defined() ? f.str() : std::string("an undefined tensor"));
  if (!process_) {
    width_ = f.size(2), height_ = f.size(1);
    const std::string ext = lower_extension(path_);
    const Encoders& enc = ffmpeg_encoders();
    // Lossless RGB is written at the frames' size; yuv420p needs even sides.
    const bool mp4_like = ext == ".mp4" || ext == ".mov" || ext == ".m4v";
    const bool pad = !opt_.lossless;
    padded_width_ = pad ? width_ + (width_ & 1) : width_;
    padded_height_ = pad ? height_ + (height_ & 1) : height_;
    std::vector<std::string> argv = {"ffmpeg", "-nostdin", "-v", "error", "-y",
                                     "-f", "rawvideo", "-pix_fmt", "rgb24",
                                     "-s", std::to_string(padded_width_) + "x" + std::to_string(padded_height_),
                                     "-r", rate_string(fps_), "-i", "pipe:0", "-an"};
    if (opt_.lossless) {
      if (mp4_like) {
        STEADY_CHECK(enc.x264rgb, prefix, ": lossless ", ext,
                     " needs ffmpeg's libx264rgb encoder; write .mkv or .avi (FFV1) instead");
        argv.insert(argv.end(), {"-c:v", "libx264rgb", "-qp", "0", "-pix_fmt", "rgb24"});
      } else {
        argv.insert(argv.end(), {"-c:v", "ffv1", "-pix_fmt", "bgr0"});
      }
    } else if (enc.x264) {
      argv.insert(argv.end(), {"-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", std::to_string(opt_.crf)});
    } else {
      argv.insert(argv.end(), {"-c:v", "mpeg4", "-pix_fmt", "yuv420p", "-q:v", "2"});
    }
    if (mp4_like) argv.insert(argv.end(), {"-movflags", "+faststart"});
    argv.push_back(ffmpeg_name(path_));
    process_ = std::make_unique<Process>();
    process_->child = spawn(argv, true, false, prefix);
  }
  STEADY_CHECK(f.size(1) == height_ && f.size(2) == width_, prefix, ": frame ", frames_, " is ",
               f.str(), " but frame 0 is ", height_, "x", width_);
  ++frames_;
  if (!process_->complete) return;  // ffmpeg gave up; close() reports why
  SigpipeGuard guard;
  std::vector<unsigned char> bytes;
  append_rgb24(bytes, f, padded_width_, padded_height_);
  process_->complete = pump_input(*process_->child, process_->err, bytes);
}

void VideoWriter::close() {
  if (!process_) return;
  std::unique_ptr<Process> p = std::move(process_);
  {
    SigpipeGuard guard;
    Child::close_fd(p->child->in);
  }
  pump_output(*p->child, p->err, nullptr);
  const int rc = p->child->wait();
  const std::string why = first_line(p->err);
  if (rc != 0 || !p->complete)
    fail(video_error_prefix("write", path_), ": ffmpeg failed (",
         why.empty() ? "exit code " + std::to_string(rc) : why, ")");
}

}  // namespace steady
