// Image files through OpenEXR 3.1 and stb_image / stb_image_write. stb is compiled here with
// STB_*_STATIC, so its functions are private to this file: no link against Debian's libstb and
// no clash with any other file that includes the implementation.
#include "data/image_io.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

#include <ImfChannelList.h>
#include <ImfCompression.h>
#include <ImfFrameBuffer.h>
#include <ImfHeader.h>
#include <ImfInputPart.h>
#include <ImfMultiPartInputFile.h>
#include <ImfMultiPartOutputFile.h>
#include <ImfOutputFile.h>
#include <ImfOutputPart.h>
#include <ImfPartType.h>
#include <ImfStandardAttributes.h>
#include <half.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"
#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#define STBI_FAILURE_USERMSG
// Only the formats we promise: TGA, BMP, GIF, PNM and PSD would take almost any bytes for an
// image (a 25-byte file decoded as 8262x18028 black pixels).
#define STBI_ONLY_PNG
#define STBI_ONLY_JPEG
#define STBI_ONLY_HDR
#include <stb/stb_image.h>
#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>
#pragma GCC diagnostic pop

namespace steady {
namespace fs = std::filesystem;

namespace {

constexpr int64_t kMaxSide = 1 << 16;         // larger sides mean a corrupt header
constexpr int64_t kMaxPixels = int64_t(1) << 28;

// Library messages can span lines; a tool prints one.
std::string one_line(const std::string& s) {
  std::string out;
  for (char c : s) out += (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string extension(const std::string& path) { return lower(fs::path(path).extension().string()); }

// Fails with a clear line when path is not a readable regular file.
void check_readable_file(const std::string& path) {
  std::error_code ec;
  fs::file_status st = fs::status(path, ec);
  if (ec || !fs::exists(st)) fail("cannot read image '", path, "': no such file");
  if (fs::is_directory(st)) fail("cannot read image '", path, "': it is a folder, not a file");
}

std::vector<unsigned char> read_bytes(const std::string& path) {
  check_readable_file(path);
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot read image '", path, "': ", std::strerror(errno));
  std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(in)),
                                   std::istreambuf_iterator<char>());
  if (in.bad()) fail("cannot read image '", path, "': read error");
  return bytes;
}

std::vector<unsigned char> read_head(const std::string& path, size_t n) {
  check_readable_file(path);
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot read image '", path, "': ", std::strerror(errno));
  std::vector<unsigned char> head(n);
  in.read(reinterpret_cast<char*>(head.data()), static_cast<std::streamsize>(n));
  head.resize(static_cast<size_t>(in.gcount()));
  return head;
}

bool is_exr_magic(const std::vector<unsigned char>& b) {
  return b.size() >= 4 && b[0] == 0x76 && b[1] == 0x2f && b[2] == 0x31 && b[3] == 0x01;
}
bool is_png_magic(const std::vector<unsigned char>& b) {
  return b.size() >= 8 && b[0] == 0x89 && b[1] == 'P' && b[2] == 'N' && b[3] == 'G';
}
bool is_jpeg_magic(const std::vector<unsigned char>& b) {
  return b.size() >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF;
}

// stb_image decodes a truncated JPEG without complaint (the missing scans come out grey). A
// complete one ends its last scan (marker FFDA) with an end-of-image marker (FFD9); inside the
// entropy-coded data a literal FF is always followed by 00, so neither marker occurs by chance.
// An embedded EXIF thumbnail has its own pair, earlier in the file.
void check_jpeg_complete(const std::vector<unsigned char>& b, const std::string& path) {
  int64_t last_sos = -1, last_eoi = -1;
  for (size_t i = 0; i + 1 < b.size(); ++i) {
    if (b[i] != 0xFF) continue;
    if (b[i + 1] == 0xDA) last_sos = static_cast<int64_t>(i);
    if (b[i + 1] == 0xD9) last_eoi = static_cast<int64_t>(i);
  }
  if (last_sos < 0 || last_eoi < last_sos)
    fail("cannot read image '", path, "': truncated or corrupt JPEG (no end-of-image marker)");
}

// JPEG Huffman tables (DHT segments, before and between the scans): stb_image builds its lookup
// tables from them without checking that the code lengths form a valid prefix code, and indexes
// out of bounds on a malformed one. Check every table first: at most 256 symbols, and at each
// length no more codes than that length leaves room for. The walk finds markers as stb_image
// does (bytes between segments skipped, fill bytes FF ignored) and steps over each scan's
// entropy-coded data (where FF is followed by 00 or a restart marker).
void check_jpeg_tables(const std::vector<unsigned char>& b, const std::string& path) {
  const auto bad = [&](const char* why) { fail("cannot read image '", path, "': ", why); };
  const size_t n = b.size();
  size_t i = 2;  // after SOI
  for (;;) {
    while (i < n && b[i] != 0xFF) ++i;
    while (i < n && b[i] == 0xFF) ++i;
    if (i >= n) return;
    const unsigned marker = b[i++];
    if (marker == 0xD9) return;  // end of image
    if (marker == 0x00 || marker == 0x01 || marker == 0xD8 || (marker >= 0xD0 && marker <= 0xD7))
      continue;  // no length
    if (i + 2 > n) bad("truncated or corrupt JPEG (a segment runs past the end)");
    const size_t len = (size_t{b[i]} << 8) | b[i + 1];
    // stb_image reads a segment that runs past the end as zeros, tables included.
    if (len < 2 || i + len > n) bad("truncated or corrupt JPEG (a segment runs past the end)");
    if (marker == 0xC4) {
      size_t k = i + 2;
      const size_t end = i + len;
      while (k < end) {
        if (k + 17 > end) bad("corrupt JPEG (bad Huffman table)");
        uint32_t code = 0, symbols = 0;
        for (int l = 1; l <= 16; ++l) {
          const uint32_t count = b[k + static_cast<size_t>(l)];
          code = (code << 1) + count;
          symbols += count;
          if (code > (uint32_t{1} << l)) bad("corrupt JPEG (bad Huffman table)");
        }
        if (symbols > 256 || k + 17 + symbols > end) bad("corrupt JPEG (bad Huffman table)");
        k += 17 + symbols;
      }
    }
    i += len;
    if (marker == 0xDA) {  // a scan's data: up to the next marker that is not 00 or a restart
      while (i + 1 < n && !(b[i] == 0xFF && b[i + 1] != 0x00 && !(b[i + 1] >= 0xD0 && b[i + 1] <= 0xD7)))
        ++i;
    }
  }
}

// PNG chunks, walked before stb_image sees them:
// - a chunk whose length runs past the end of the file is refused: stb_image allocates an IDAT
//   chunk's declared length (up to 2 GB) before it finds the bytes missing;
// - zero-length IDAT chunks carry nothing, and stb_image copies the first one into a buffer it
//   has not allocated yet (memcpy to a null pointer, undefined behaviour even for 0 bytes).
//   They are dropped; each chunk has its own CRC, so the rest stays valid.
void check_png_chunks(std::vector<unsigned char>& b, const std::string& path) {
  size_t i = 8;  // after the signature
  while (i + 12 <= b.size()) {
    const size_t length = (size_t{b[i]} << 24) | (size_t{b[i + 1]} << 16) | (size_t{b[i + 2]} << 8) | b[i + 3];
    if (length > b.size() - i - 12)
      fail("cannot read image '", path, "': truncated or corrupt PNG (a chunk runs past the end)");
    if (std::equal(b.begin() + static_cast<std::ptrdiff_t>(i + 4),
                   b.begin() + static_cast<std::ptrdiff_t>(i + 8), "IEND"))
      return;  // bytes some writers append after it are not chunks
    if (length == 0 && std::equal(b.begin() + static_cast<std::ptrdiff_t>(i + 4),
                                  b.begin() + static_cast<std::ptrdiff_t>(i + 8), "IDAT")) {
      b.erase(b.begin() + static_cast<std::ptrdiff_t>(i), b.begin() + static_cast<std::ptrdiff_t>(i + 12));
      continue;
    }
    i += 12 + length;
  }
}

// PNG: a complete file has its IEND chunk (type and CRC; some writers append bytes after it).
// stb_image stops at the image data and can miss a cut tail.
void check_png_complete(const std::vector<unsigned char>& b, const std::string& path) {
  static const char iend[4] = {'I', 'E', 'N', 'D'};
  auto it = std::find_end(b.begin(), b.end(), iend, iend + 4);
  const bool ok = it != b.end() && b.end() - it >= 8;
  if (!ok) fail("cannot read image '", path, "': truncated or corrupt PNG (no IEND chunk)");
}

// Radiance HDR: stb_image reads past the end of a cut file as zero bytes, and a zero run length
// in its RLE decoder never advances, so a truncated file spins forever. Walk the scanlines the way
// stb_image does, with bounds, before it decodes anything.
void check_radiance_complete(const std::vector<unsigned char>& b, const std::string& path) {
  const auto bad = [&](const char* why) { fail("cannot read image '", path, "': ", why, " Radiance HDR"); };
  // The header: lines up to an empty one, then the resolution line "-Y H +X W".
  size_t i = 0;
  for (bool blank = false; !blank;) {
    const size_t eol = std::find(b.begin() + static_cast<std::ptrdiff_t>(i), b.end(), '\n') - b.begin();
    if (eol >= b.size()) bad("truncated (no end of header in the)");
    blank = eol == i;
    i = eol + 1;
  }
  const size_t eol = std::find(b.begin() + static_cast<std::ptrdiff_t>(i), b.end(), '\n') - b.begin();
  if (eol >= b.size()) bad("truncated (no resolution line in the)");
  int h = 0, w = 0;
  const std::string res(b.begin() + static_cast<std::ptrdiff_t>(i), b.begin() + static_cast<std::ptrdiff_t>(eol));
  if (std::sscanf(res.c_str(), "-Y %d +X %d", &h, &w) != 2 || h <= 0 || w <= 0) return;  // stb refuses it
  i = eol + 1;
  const uint64_t pixels = static_cast<uint64_t>(w) * static_cast<uint64_t>(h);
  const auto need = [&](uint64_t n) {
    if (b.size() - i < n) bad("truncated");
  };
  if (w < 8 || w >= 32768) return need(pixels * 4);
  for (int y = 0; y < h; ++y) {
    need(4);
    if (b[i] != 2 || b[i + 1] != 2 || (b[i + 2] & 0x80)) {
      // Not run-length encoded: flat RGBE from here on (stb_image reads the rest flat).
      return need((pixels - static_cast<uint64_t>(y) * w) * 4);
    }
    if (((b[i + 2] << 8) | b[i + 3]) != w) return;  // stb refuses the scanline itself
    i += 4;
    for (int k = 0; k < 4; ++k)
      for (int x = 0; x < w;) {
        need(1);
        int count = b[i++];
        const bool run = count > 128;
        if (run) count -= 128;
        if (count == 0 || count > w - x) bad("corrupt (bad run length in the)");
        need(run ? 1 : static_cast<uint64_t>(count));
        i += run ? 1 : static_cast<size_t>(count);
        x += count;
      }
  }
}

// NaN and Inf make every later number garbage; say so at the source. Negatives go to 0 unless
// the data is signed (stored motion).
void check_finite_clamp(Tensor& t, const std::string& path, bool clamp_negative = true) {
  float* p = t.data<float>();
  const int64_t c_n = t.size(0), h = t.size(1), w = t.size(2);
  for (int64_t i = 0; i < t.numel(); ++i) {
    if (!std::isfinite(p[i])) {
      int64_t c = i / (h * w), y = (i / w) % h, x = i % w;
      fail("cannot read image '", path, "': contains ", std::isnan(p[i]) ? "NaN" : "Inf",
           " (first at x=", x, ", y=", y, ", channel ", c, " of ", c_n, ")");
    }
    if (clamp_negative && p[i] < 0.f) p[i] = 0.f;
  }
}

// A small file can declare a huge image (a 261 KB PNG decodes to 1.5 GB): decoded float32 data
// is held to a budget, STEADY_IMAGE_BUDGET_MB (default 1024), checked before decoding.
int64_t image_budget_bytes() {
  static const int64_t budget = [] {
    const char* env = std::getenv("STEADY_IMAGE_BUDGET_MB");
    char* end = nullptr;
    const long long mb = env ? std::strtoll(env, &end, 10) : 1024;
    if (env && (end == env || *end != '\0' || mb <= 0 || mb > (int64_t{1} << 24)))
      fail("STEADY_IMAGE_BUDGET_MB must be a positive number of megabytes, got '", env, "'");
    return static_cast<int64_t>(mb) << 20;
  }();
  return budget;
}

void check_size(int64_t w, int64_t h, const std::string& path, int64_t channels) {
  if (w <= 0 || h <= 0 || w > kMaxSide || h > kMaxSide || w * h > kMaxPixels)
    fail("cannot read image '", path, "': implausible size ", w, "x", h, " (corrupt header?)");
  const int64_t bytes = w * h * std::max<int64_t>(channels, 1) * 4;
  if (bytes > image_budget_bytes())
    fail("cannot read image '", path, "': ", w, "x", h, "x", channels, " would take ", bytes >> 20,
         " MB decoded, over the ", image_budget_bytes() >> 20,
         " MB budget (raise STEADY_IMAGE_BUDGET_MB to allow it)");
}

// ------------------------------------------------------------------------------- EXR reading

struct ExrLayout {
  std::vector<std::string> names;  // channel names to read, in tensor order
};

ExrLayout exr_layout(const Imf::Header& h, const std::string& path) {
  const Imf::ChannelList& cl = h.channels();
  auto has = [&](const char* n) { return cl.findChannel(n) != nullptr; };
  ExrLayout l;
  if (has("R") && has("G") && has("B")) {
    l.names = {"R", "G", "B"};
    if (has("A")) l.names.push_back("A");
  } else if (has("Y")) {
    l.names = {"Y"};  // a Y+A file loses its alpha: 2-channel images are not a layout here
  } else {
    std::string found;
    for (auto it = cl.begin(); it != cl.end(); ++it) found += std::string(found.empty() ? "" : ", ") + it.name();
    fail("cannot read image '", path, "': EXR channels {", found,
         "} are not Y, RGB or RGBA");
  }
  for (const std::string& n : l.names) {
    const Imf::Channel* ch = cl.findChannel(n.c_str());
    if (ch->xSampling != 1 || ch->ySampling != 1)
      fail("cannot read image '", path, "': EXR channel ", n, " is subsampled (not supported)");
  }
  return l;
}

Tensor read_exr_part(Imf::MultiPartInputFile& file, int part, const std::string& path,
                     bool clamp_negative) {
  const Imf::Header& h = file.header(part);
  if (h.hasType() && Imf::isDeepData(h.type()))
    fail("cannot read image '", path, "': part ", part, " holds deep data (not supported)");
  const Imath::Box2i dw = h.dataWindow();
  const int64_t w = int64_t(dw.max.x) - dw.min.x + 1, hh = int64_t(dw.max.y) - dw.min.y + 1;
  ExrLayout l = exr_layout(h, path);
  const int64_t c_n = static_cast<int64_t>(l.names.size());
  check_size(w, hh, path, c_n);
  Tensor t = Tensor::empty({c_n, hh, w});
  Imf::FrameBuffer fb;
  for (int64_t c = 0; c < c_n; ++c)
    fb.insert(l.names[c], Imf::Slice::Make(Imf::FLOAT, t.data<float>() + c * hh * w, dw,
                                           sizeof(float), static_cast<size_t>(w) * sizeof(float)));
  Imf::InputPart in(file, part);
  in.setFrameBuffer(fb);
  in.readPixels(dw.min.y, dw.max.y);
  check_finite_clamp(t, path, clamp_negative);
  return t;
}

// OpenEXR 3.1 sizes storage from what a header declares before reading it (a 2 KB file that
// declares a 2 GB string attribute costs 2 GB; found by fuzz_exr), and reads a value of a known
// type by its type, not by the size the header gives it, so a lying size moves OpenEXR to bytes
// a naive walk never looks at. Walk the headers as OpenEXR reads them, first: magic, version,
// then per part attributes (name\0 type\0 int32 size, value) ended by an empty name; a multi-part
// file ends its list of headers with one more empty name. Every length that sizes an allocation
// (string, string vector entries, preview pixels, opaque values) must fit in the file.
void check_exr_headers(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return;  // OpenEXR says why
  in.seekg(0, std::ios::end);
  const int64_t file_size = static_cast<int64_t>(in.tellg());
  in.seekg(0);
  unsigned char head[8];
  if (!in.read(reinterpret_cast<char*>(head), 8)) return;
  const bool multipart = (head[5] & 0x10) != 0;  // version bit 12
  const auto bad = [&](const std::string& why) {
    fail("cannot read EXR '", path, "': corrupt header (", why, ")");
  };
  const auto left = [&] { return file_size - static_cast<int64_t>(in.tellg()); };
  auto read_name = [&](std::string& out) {
    out.clear();
    for (char ch; in.get(ch);) {
      if (ch == '\0') return;
      if (out.size() >= 255) bad("a name longer than 255 bytes");
      out += ch;
    }
    bad("it ends inside the header");
  };
  auto read_i32 = [&] {
    unsigned char v[4];
    if (!in.read(reinterpret_cast<char*>(v), 4)) bad("it ends inside the header");
    return static_cast<int64_t>(int32_t(uint32_t(v[0]) | uint32_t(v[1]) << 8 | uint32_t(v[2]) << 16 |
                                        uint32_t(v[3]) << 24));
  };
  auto skip = [&](int64_t n, const std::string& what) {
    if (n < 0 || n > left())
      bad(what + " declares " + std::to_string(n) + " bytes, more than the file holds");
    in.seekg(n, std::ios::cur);
  };
  // Values OpenEXR reads by their type's size, whatever size the header states.
  static const std::map<std::string, int64_t> fixed = {
      {"box2i", 16}, {"box2f", 16}, {"v2i", 8}, {"v2f", 8}, {"v2d", 16}, {"v3i", 12},
      {"v3f", 12}, {"v3d", 24}, {"m33f", 36}, {"m33d", 72}, {"m44f", 64}, {"m44d", 128},
      {"int", 4}, {"float", 4}, {"double", 8}, {"compression", 1}, {"lineOrder", 1},
      {"envmap", 1}, {"deepImageState", 1}, {"chromaticities", 32}, {"keycode", 28},
      {"timecode", 8}, {"rational", 8}, {"tiledesc", 9}};
  for (int part = 0;; ++part) {
    if (part > 100000) bad("too many parts");
    std::string name, type;
    read_name(name);
    if (name.empty()) {
      if (part == 0) bad("no attributes");
      break;  // multi-part: the empty header ends the list
    }
    for (;;) {
      read_name(type);
      const int64_t size = read_i32();
      std::string shown = name.substr(0, 40);  // untrusted: printable and short in messages
      for (char& ch : shown)
        if (ch < 32 || ch > 126) ch = '?';
      const std::string what = "attribute '" + shown + "'";
      if (size < 0) bad(what + " declares a negative size");
      if (const auto f = fixed.find(type); f != fixed.end()) {
        skip(f->second, what);
      } else if (type == "chlist") {  // channels up to an empty name, 16 bytes after each name
        for (std::string channel;;) {
          read_name(channel);
          if (channel.empty()) break;
          skip(16, what);
        }
      } else if (type == "preview") {  // width, height, then width x height RGBA bytes
        const int64_t w = static_cast<uint32_t>(read_i32()), h = static_cast<uint32_t>(read_i32());
        if (w != 0 && h > left() / 4 / w) bad(what + " declares a " + std::to_string(w) + "x" +
                                    std::to_string(h) + " preview, more than the file holds");
        skip(4 * w * h, what);
      } else if (type == "stringvector") {  // (int32 length, bytes) entries within size
        if (size > left()) skip(size, what);
        for (int64_t read = 0; read < size;) {
          const int64_t n = read_i32();
          skip(n, what);
          read += 4 + n;
        }
      } else {  // string, float vector, opaque: exactly size bytes
        skip(size, what);
      }
      read_name(name);
      if (name.empty()) break;  // end of this part's header
    }
    if (!multipart) break;
  }
}

template <class F>
auto with_exr_errors(const std::string& path, const char* verb, F&& body) -> decltype(body()) {
  try {
    if (std::strcmp(verb, "read") == 0) check_exr_headers(path);
    return body();
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    fail("cannot ", verb, " EXR '", path, "': ", one_line(e.what()));
  }
}

void check_exr_file(const std::string& path) {
  if (!is_exr_magic(read_head(path, 4)))
    fail("cannot read image '", path, "': not an OpenEXR file");
}

// ------------------------------------------------------------------------------- EXR writing

// Float copy of [C,H,W] on the CPU, checked.
std::vector<float> host_planes(const Tensor& img, const char* op, const std::string& path) {
  STEADY_CHECK(img.defined() && img.dim() == 3, op, ": '", path, "': image must be [C,H,W], got ",
               img.defined() ? img.str() : std::string("an undefined tensor"));
  const int64_t c = img.size(0);
  STEADY_CHECK(c == 1 || c == 3 || c == 4, op, ": '", path, "': image has ", c,
               " channels; expected 1 (Y), 3 (RGB) or 4 (RGBA), got ", img.str());
  STEADY_CHECK(img.device() == Device::CPU, op, ": '", path, "': image must be on the CPU, got ",
               img.str());
  std::vector<double> v = img.to_host();
  std::vector<float> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    STEADY_CHECK(std::isfinite(v[i]), op, ": '", path, "': image contains NaN or Inf (element ",
                 i, " of ", img.str(), ")");
    out[i] = static_cast<float>(v[i]);
  }
  return out;
}

std::vector<std::string> channel_names(int64_t c) {
  if (c == 1) return {"Y"};
  if (c == 3) return {"R", "G", "B"};
  return {"R", "G", "B", "A"};
}

Imf::Header make_header(int64_t c, int64_t h, int64_t w, const ExrWriteOptions& opt) {
  Imf::Header header(static_cast<int>(w), static_cast<int>(h));
  header.compression() = Imf::ZIP_COMPRESSION;
  const Imf::PixelType type = opt.precision == ExrPrecision::Half ? Imf::HALF : Imf::FLOAT;
  for (const std::string& n : channel_names(c)) header.channels().insert(n, Imf::Channel(type));
  if (opt.fps > 0) Imf::addFramesPerSecond(header, Imf::Rational(opt.fps));
  return header;
}

// Holds the pixel memory a FrameBuffer points into until the part is written.
struct WriteBuffer {
  std::vector<float> f;
  std::vector<half> h;
  Imf::FrameBuffer fb;
};

void fill_write_buffer(WriteBuffer& b, std::vector<float> planes, int64_t c_n, int64_t h, int64_t w,
                       const ExrWriteOptions& opt) {
  const std::vector<std::string> names = channel_names(c_n);
  const size_t plane = static_cast<size_t>(h * w);
  if (opt.precision == ExrPrecision::Half) {
    b.h.resize(planes.size());
    for (size_t i = 0; i < planes.size(); ++i) b.h[i] = half(planes[i]);
    for (int64_t c = 0; c < c_n; ++c)
      b.fb.insert(names[c], Imf::Slice(Imf::HALF, reinterpret_cast<char*>(b.h.data() + c * plane),
                                       sizeof(half), static_cast<size_t>(w) * sizeof(half)));
  } else {
    b.f = std::move(planes);
    for (int64_t c = 0; c < c_n; ++c)
      b.fb.insert(names[c], Imf::Slice(Imf::FLOAT, reinterpret_cast<char*>(b.f.data() + c * plane),
                                       sizeof(float), static_cast<size_t>(w) * sizeof(float)));
  }
}

// ------------------------------------------------------------------------------- stb reading

// [comp, h, w] floats from interleaved samples, each times `unit` (1/255, 1/65535 or 1).
template <class T>
Tensor planar_from_interleaved(const T* p, int w, int h, int comp, float unit) {
  Tensor t = Tensor::empty({comp, h, w});
  float* o = t.data<float>();
  const int64_t plane = int64_t(w) * h;
  for (int64_t i = 0; i < plane; ++i)
    for (int c = 0; c < comp; ++c) o[c * plane + i] = p[i * comp + c] * unit;
  return t;
}

// Grey+alpha becomes grey: 2-channel images are not a layout here.
Tensor drop_grey_alpha(const Tensor& t) {
  if (t.size(0) != 2) return t;
  return t.view(0, {1, t.size(1), t.size(2)}).clone();
}

std::string stb_reason() {
  const char* r = stbi_failure_reason();
  return r ? one_line(r) : std::string("unknown error");
}

Tensor read_stb(const std::string& path) {
  std::vector<unsigned char> b = read_bytes(path);
  if (b.empty()) fail("cannot read image '", path, "': the file is empty");
  if (b.size() > static_cast<size_t>(INT32_MAX)) fail("cannot read image '", path, "': file too large");
  const auto starts_with = [&](const char* magic) {
    const size_t n = std::strlen(magic);
    return b.size() >= n && std::equal(magic, magic + n, b.begin());
  };
  if (!is_png_magic(b) && !is_jpeg_magic(b) && !starts_with("#?RADIANCE") && !starts_with("#?RGBE"))
    fail("cannot read image '", path,
         "': not an image this program can read (expected EXR, HDR, PNG or JPG)");
  if (is_jpeg_magic(b)) check_jpeg_tables(b, path);
  if (is_png_magic(b)) check_png_chunks(b, path);
  const int len = static_cast<int>(b.size());
  int w = 0, h = 0, comp = 0;
  if (!stbi_info_from_memory(b.data(), len, &w, &h, &comp)) {
    if (is_png_magic(b) || is_jpeg_magic(b))
      fail("cannot read image '", path, "': corrupt ", is_png_magic(b) ? "PNG" : "JPEG", " (",
           stb_reason(), ")");
    fail("cannot read image '", path,
         "': not an image this program can read (expected EXR, HDR, PNG or JPG)");
  }
  check_size(w, h, path, comp);
  if (is_png_magic(b)) check_png_complete(b, path);
  if (is_jpeg_magic(b)) check_jpeg_complete(b, path);

  Tensor t;
  if (stbi_is_hdr_from_memory(b.data(), len)) {
    check_radiance_complete(b, path);
    float* p = stbi_loadf_from_memory(b.data(), len, &w, &h, &comp, 0);
    if (!p) fail("cannot read image '", path, "': corrupt Radiance HDR (", stb_reason(), ")");
    t = planar_from_interleaved(p, w, h, comp, 1.0f);
    stbi_image_free(p);
    t = drop_grey_alpha(t);
    check_finite_clamp(t, path);
  } else if (stbi_is_16_bit_from_memory(b.data(), len)) {
    unsigned short* p = stbi_load_16_from_memory(b.data(), len, &w, &h, &comp, 0);
    if (!p) fail("cannot read image '", path, "': corrupt image (", stb_reason(), ")");
    t = drop_grey_alpha(planar_from_interleaved(p, w, h, comp, 1.0f / 65535.0f));
    stbi_image_free(p);
  } else {
    unsigned char* p = stbi_load_from_memory(b.data(), len, &w, &h, &comp, 0);
    if (!p) fail("cannot read image '", path, "': corrupt image (", stb_reason(), ")");
    t = drop_grey_alpha(planar_from_interleaved(p, w, h, comp, 1.0f / 255.0f));
    stbi_image_free(p);
  }
  return t;
}

}  // namespace

// --------------------------------------------------------------------------------- public API

Tensor convert_channels(const Tensor& img, int channels, const std::string& what) {
  STEADY_CHECK(img.dim() == 3, "convert_channels: ", what, ": expected [C,H,W], got ", img.str());
  const int64_t c = img.size(0), h = img.size(1), w = img.size(2), plane = h * w;
  STEADY_CHECK(channels == 0 || channels == 1 || channels == 3 || channels == 4,
               "convert_channels: ", what, ": cannot give ", channels,
               " channels (1, 3 or 4; 0 keeps the file's)");
  STEADY_CHECK(c == 1 || c == 3 || c == 4, "convert_channels: ", what, ": has ", c,
               " channels; expected 1, 3 or 4");
  if (channels == 0 || channels == c) return img;
  Tensor src = img.dtype() == DType::F32 ? img : img.to(DType::F32);
  const float* s = src.data<float>();
  Tensor out = Tensor::empty({channels, h, w});
  float* o = out.data<float>();
  if (channels == 1) {  // Rec. 709 luminance
    for (int64_t i = 0; i < plane; ++i)
      o[i] = 0.2126f * s[i] + 0.7152f * s[plane + i] + 0.0722f * s[2 * plane + i];
    return out;
  }
  for (int64_t k = 0; k < 3; ++k)
    std::memcpy(o + k * plane, s + (c == 1 ? 0 : k) * plane, sizeof(float) * plane);
  if (channels == 4) std::fill(o + 3 * plane, o + 4 * plane, 1.0f);
  return out;
}

bool is_exr_file(const std::string& path) { return is_exr_magic(read_head(path, 4)); }

Tensor read_image(const std::string& path, int channels) {
  std::vector<unsigned char> head = read_head(path, 16);
  Tensor t;
  if (is_exr_magic(head)) {
    t = read_exr(path, 0);
  } else if (head.empty()) {
    fail("cannot read image '", path, "': the file is empty");
  } else {
    t = read_stb(path);
  }
  return convert_channels(t, channels, "'" + path + "'");
}

Tensor read_exr(const std::string& path, int part, bool clamp_negative) {
  check_exr_file(path);
  return with_exr_errors(path, "read", [&] {
    Imf::MultiPartInputFile file(path.c_str());
    if (part < 0 || part >= file.parts())
      fail("cannot read image '", path, "': part ", part, " requested, the file has ",
           file.parts());
    return read_exr_part(file, part, path, clamp_negative);
  });
}

std::vector<Tensor> read_exr_parts(const std::string& path, bool clamp_negative) {
  check_exr_file(path);
  return with_exr_errors(path, "read", [&] {
    Imf::MultiPartInputFile file(path.c_str());
    std::vector<Tensor> parts;
    for (int i = 0; i < file.parts(); ++i) parts.push_back(read_exr_part(file, i, path, clamp_negative));
    return parts;
  });
}

ExrInfo read_exr_info(const std::string& path) {
  check_exr_file(path);
  return with_exr_errors(path, "read", [&] {
    Imf::MultiPartInputFile file(path.c_str());
    ExrInfo info;
    info.parts = file.parts();
    const Imf::Header& h = file.header(0);
    const Imath::Box2i dw = h.dataWindow();
    info.width = int64_t(dw.max.x) - dw.min.x + 1;
    info.height = int64_t(dw.max.y) - dw.min.y + 1;
    info.channels = static_cast<int>(exr_layout(h, path).names.size());
    if (Imf::hasFramesPerSecond(h)) info.fps = static_cast<double>(Imf::framesPerSecond(h));
    return info;
  });
}

int exr_part_count(const std::string& path) { return read_exr_info(path).parts; }

void write_exr(const std::string& path, const Tensor& img, const ExrWriteOptions& opt) {
  std::vector<float> planes = host_planes(img, "write_exr", path);
  const int64_t c = img.size(0), h = img.size(1), w = img.size(2);
  with_exr_errors(path, "write", [&] {
    WriteBuffer b;
    fill_write_buffer(b, std::move(planes), c, h, w, opt);
    Imf::OutputFile out(path.c_str(), make_header(c, h, w, opt));
    out.setFrameBuffer(b.fb);
    out.writePixels(static_cast<int>(h));
    return 0;
  });
}

void write_exr_multipart(const std::string& path, const std::vector<Tensor>& frames,
                         const ExrWriteOptions& opt) {
  STEADY_CHECK(!frames.empty(), "write_exr_multipart: '", path, "': no frames to write");
  std::vector<std::vector<float>> planes;
  for (const Tensor& f : frames) {
    planes.push_back(host_planes(f, "write_exr_multipart", path));
    STEADY_CHECK(f.shape() == frames[0].shape(), "write_exr_multipart: '", path, "': frame ",
                 planes.size() - 1, " is ", f.str(), " but frame 0 is ", frames[0].str());
  }
  const int64_t c = frames[0].size(0), h = frames[0].size(1), w = frames[0].size(2);
  with_exr_errors(path, "write", [&] {
    std::vector<Imf::Header> headers;
    for (size_t i = 0; i < frames.size(); ++i) {
      Imf::Header hd = make_header(c, h, w, opt);
      char name[32];
      std::snprintf(name, sizeof(name), "frame_%04zu", i);
      hd.setName(name);
      hd.setType(Imf::SCANLINEIMAGE);
      headers.push_back(hd);
    }
    Imf::MultiPartOutputFile file(path.c_str(), headers.data(), static_cast<int>(headers.size()));
    for (size_t i = 0; i < frames.size(); ++i) {
      WriteBuffer b;
      fill_write_buffer(b, std::move(planes[i]), c, h, w, opt);
      Imf::OutputPart part(file, static_cast<int>(i));
      part.setFrameBuffer(b.fb);
      part.writePixels(static_cast<int>(h));
    }
    return 0;
  });
}

void write_png(const std::string& path, const Tensor& img) {
  std::vector<float> planes = host_planes(img, "write_png", path);
  const int64_t c = img.size(0), h = img.size(1), w = img.size(2), plane = h * w;
  std::vector<unsigned char> px(static_cast<size_t>(c * plane));
  for (int64_t i = 0; i < plane; ++i)
    for (int64_t k = 0; k < c; ++k) {
      float v = std::min(1.0f, std::max(0.0f, planes[k * plane + i]));
      px[i * c + k] = static_cast<unsigned char>(std::lround(v * 255.0f));
    }
  if (!stbi_write_png(path.c_str(), static_cast<int>(w), static_cast<int>(h), static_cast<int>(c),
                      px.data(), static_cast<int>(w * c)))
    fail("cannot write PNG '", path, "': ", std::strerror(errno));
}

bool has_image_extension(const std::string& path) {
  const std::string e = extension(path);
  return e == ".exr" || e == ".hdr" || e == ".png" || e == ".jpg" || e == ".jpeg";
}
bool has_hdr_extension(const std::string& path) {
  const std::string e = extension(path);
  return e == ".exr" || e == ".hdr";
}
bool has_exr_extension(const std::string& path) { return extension(path) == ".exr"; }

bool natural_less(const std::string& a, const std::string& b) {
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    const bool da = std::isdigit(static_cast<unsigned char>(a[i]));
    const bool db = std::isdigit(static_cast<unsigned char>(b[j]));
    if (da && db) {
      size_t ie = i, je = j;
      while (ie < a.size() && std::isdigit(static_cast<unsigned char>(a[ie]))) ++ie;
      while (je < b.size() && std::isdigit(static_cast<unsigned char>(b[je]))) ++je;
      size_t ia = i, jb = j;  // skip leading zeros, then the longer number is larger
      while (ia + 1 < ie && a[ia] == '0') ++ia;
      while (jb + 1 < je && b[jb] == '0') ++jb;
      if (ie - ia != je - jb) return ie - ia < je - jb;
      int cmp = a.compare(ia, ie - ia, b, jb, je - jb);
      if (cmp != 0) return cmp < 0;
      if (ie - i != je - j) return ie - i < je - j;  // "1" before "01": a strict order
      i = ie, j = je;
    } else {
      if (a[i] != b[j]) return a[i] < b[j];
      ++i, ++j;
    }
  }
  return a.size() - i < b.size() - j;
}

std::vector<std::string> list_images(const std::string& dir, bool hdr_only) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) fail("cannot list images: '", dir, "' is not a folder");
  std::vector<std::string> names;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code ec2;
    if (!it->is_regular_file(ec2)) continue;
    const std::string name = it->path().filename().string();
    if (hdr_only ? has_hdr_extension(name) : has_image_extension(name)) names.push_back(name);
  }
  if (ec) fail("cannot list images in '", dir, "': ", ec.message());
  std::sort(names.begin(), names.end(), natural_less);
  std::vector<std::string> paths;
  for (const std::string& n : names) paths.push_back((fs::path(dir) / n).string());
  return paths;
}

}  // namespace steady
