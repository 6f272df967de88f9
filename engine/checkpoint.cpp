// Checkpoints as safetensors files (https://github.com/huggingface/safetensors): an 8-byte
// little-endian header length N, N bytes of JSON header (padded with spaces so the data starts
// 8-byte aligned), then every tensor's raw little-endian bytes, back to back in header order.
// Loading validates the whole file against the model before touching the store, so a bad file
// leaves the model as it was and the error says exactly what differs.
#include "engine/checkpoint.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>
#include <sstream>
#include <vector>

#include <nlohmann/json.hpp>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "checkpoint.cpp writes tensor memory as-is; safetensors is little-endian"
#endif

namespace steady {

namespace {

using ordered_json = nlohmann::ordered_json;
using nlohmann::json;

constexpr const char* kFormat = "steady-1";
// safetensors readers refuse headers above 100 MB; a larger length means a corrupt file.
constexpr uint64_t kMaxHeaderBytes = 100ull << 20;

// "[16,3,3,3]", the shape spelling of the safetensors header.
std::string dims_str(const Shape& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? "," : "") + std::to_string(s[i]);
  return out + "]";
}

std::string errno_str(int err) { return std::strerror(err); }

std::string parent_folder(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// One tensor of the file: its name, shape and where its bytes lie.
struct FileTensor {
  std::string name;
  Shape shape;
  uint64_t begin = 0, end = 0;  // into the data section
};

// The part of the file before the data: header JSON, and where data starts.
struct ParsedHeader {
  std::map<std::string, FileTensor> tensors;
  std::map<std::string, std::string> metadata;
  bool has_metadata = false;
  uint64_t data_start = 0;  // 8 + N
  uint64_t file_size = 0;
};

// ------------------------------------------------------------------------------- writing

// Removes the temporary file unless the write got as far as renaming it into place.
class TempFile {
 public:
  explicit TempFile(std::string path) : path_(std::move(path)) {}
  ~TempFile() {
    if (file_) std::fclose(file_);
    if (!committed_) std::remove(path_.c_str());
  }
  const std::string& path() const { return path_; }
  FILE*& file() { return file_; }
  void commit() { committed_ = true; }

 private:
  std::string path_;
  FILE* file_ = nullptr;
  bool committed_ = false;
};

struct TensorToWrite {
  std::string name;
  Shape shape;
  const float* data;  // host memory
};

void write_bytes(TempFile& tmp, const std::string& final_path, const void* data, size_t bytes) {
  if (bytes == 0) return;
  errno = 0;
  size_t wrote = std::fwrite(data, 1, bytes, tmp.file());
  if (wrote != bytes) {
    int err = errno;
    fail("save_checkpoint: writing ", final_path, " failed after ", wrote, " of ", bytes,
         " bytes: ", err ? errno_str(err) : "short write", " (is the disk full?)");
  }
}

std::string metadata_uint(uint64_t v) { return std::to_string(v); }

}  // namespace

void save_checkpoint(const std::string& path, const ParamStore& store, const Adam* optimizer,
                     const CheckpointMeta& meta) {
  STEADY_CHECK(store.finalized(), "save_checkpoint: the parameter store is not finalized");
  STEADY_CHECK(!path.empty(), "save_checkpoint: empty path");

  // Everything to the host first: a checkpoint of a CUDA run is the same file as a CPU run's.
  Tensor values = store.values.to(Device::CPU);
  Tensor buffer_values = store.buffer_values.to(Device::CPU);
  Tensor m, v;
  if (optimizer) {
    STEADY_CHECK(optimizer->m.defined() && optimizer->v.defined(),
                 "save_checkpoint: the optimizer has no moments; attach() it to the store first");
    STEADY_CHECK(optimizer->m.shape() == store.values.shape() &&
                     optimizer->v.shape() == store.values.shape() &&
                     optimizer->m.dtype() == DType::F32 && optimizer->v.dtype() == DType::F32,
                 "save_checkpoint: optimizer moments ", optimizer->m.str(), " / ",
                 optimizer->v.str(), " do not match the parameters ", store.values.str());
    m = optimizer->m.to(Device::CPU);
    v = optimizer->v.to(Device::CPU);
  }
  STEADY_CHECK(values.dtype() == DType::F32 && buffer_values.dtype() == DType::F32,
               "save_checkpoint: parameters must be f32, got ", values.str(), " and ",
               buffer_values.str());

  std::vector<TensorToWrite> tensors;
  std::set<std::string> names;
  auto add = [&](const std::string& prefix, const ParamEntry& e, const Tensor& flat) {
    std::string name = prefix + e.name;
    STEADY_CHECK(names.insert(name).second, "save_checkpoint: two tensors are named '", name, "'");
    tensors.push_back({name, e.shape, flat.data<float>() + e.offset});
  };
  for (const ParamEntry& e : store.params()) add("param.", e, values);
  for (const ParamEntry& e : store.buffers()) add("buffer.", e, buffer_values);
  if (optimizer) {
    for (const ParamEntry& e : store.params()) add("adam.m.", e, m);
    for (const ParamEntry& e : store.params()) add("adam.v.", e, v);
  }

  ordered_json header = ordered_json::object();
  uint64_t offset = 0;
  for (const TensorToWrite& t : tensors) {
    uint64_t bytes = static_cast<uint64_t>(shape_numel(t.shape)) * sizeof(float);
    header[t.name] = {{"dtype", "F32"}, {"shape", t.shape}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  ordered_json metadata = {{"format", kFormat},
                           {"step", std::to_string(meta.step)},
                           {"rng_seed", metadata_uint(meta.rng_seed)},
                           {"rng_counter", metadata_uint(meta.rng_counter)},
                           {"config", meta.config}};
  if (optimizer) metadata["adam_step"] = std::to_string(optimizer->steps());
  header["__metadata__"] = metadata;

  std::string header_text;
  try {
    header_text = header.dump();
  } catch (const nlohmann::json::exception& e) {
    fail("save_checkpoint: cannot encode the header of ", path, " (config must be UTF-8): ",
         e.what());
  }
  // Spaces are valid JSON whitespace; safetensors pads the same way so data is 8-byte aligned.
  header_text.append((8 - header_text.size() % 8) % 8, ' ');
  uint64_t header_len = header_text.size();
  unsigned char len_bytes[8];
  for (int i = 0; i < 8; ++i) len_bytes[i] = static_cast<unsigned char>(header_len >> (8 * i));

  std::string folder = parent_folder(path);
  struct stat st;
  if (::stat(folder.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    fail("save_checkpoint: folder '", folder, "' for ", path, " does not exist");
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
    fail("save_checkpoint: ", path, " is a folder");

  // Same folder as the target, so the rename stays on one filesystem and is atomic.
  TempFile tmp(path + ".tmp." + std::to_string(::getpid()));
  tmp.file() = std::fopen(tmp.path().c_str(), "wb");
  if (!tmp.file())
    fail("save_checkpoint: cannot create ", tmp.path(), ": ", errno_str(errno));

  write_bytes(tmp, path, len_bytes, 8);
  write_bytes(tmp, path, header_text.data(), header_text.size());
  for (const TensorToWrite& t : tensors)
    write_bytes(tmp, path, t.data, static_cast<size_t>(shape_numel(t.shape)) * sizeof(float));

  if (std::fflush(tmp.file()) != 0)
    fail("save_checkpoint: writing ", path, " failed: ", errno_str(errno), " (is the disk full?)");
  if (::fsync(::fileno(tmp.file())) != 0)
    fail("save_checkpoint: fsync of ", tmp.path(), " failed: ", errno_str(errno));
  int close_status = std::fclose(tmp.file());
  tmp.file() = nullptr;
  if (close_status != 0)
    fail("save_checkpoint: closing ", tmp.path(), " failed: ", errno_str(errno));

  if (std::rename(tmp.path().c_str(), path.c_str()) != 0)
    fail("save_checkpoint: cannot rename ", tmp.path(), " to ", path, ": ", errno_str(errno));
  tmp.commit();

  // The rename itself is durable only once the folder's entry is on disk.
  int dir_fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY);
  if (dir_fd < 0)
    fail("save_checkpoint: wrote ", path, " but cannot open its folder to sync it: ",
         errno_str(errno));
  int sync_status = ::fsync(dir_fd);
  int sync_err = errno;
  ::close(dir_fd);
  // Some filesystems cannot fsync a folder (EINVAL); the file itself is already synced.
  if (sync_status != 0 && sync_err != EINVAL)
    fail("save_checkpoint: wrote ", path, " but syncing its folder failed: ", errno_str(sync_err));
}

// ------------------------------------------------------------------------------- reading

namespace {

// An open checkpoint file; closes itself.
class InFile {
 public:
  explicit InFile(const std::string& path) : path_(path) {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) {
      int err = errno;
      if (err == ENOENT) fail("checkpoint ", path, " does not exist");
      fail("checkpoint ", path, " cannot be read: ", errno_str(err));
    }
    if (S_ISDIR(st.st_mode)) fail("checkpoint ", path, " is a folder, not a file");
    file_ = std::fopen(path.c_str(), "rb");
    if (!file_) fail("checkpoint ", path, " cannot be opened: ", errno_str(errno));
    size_ = static_cast<uint64_t>(st.st_size);
  }
  ~InFile() {
    if (file_) std::fclose(file_);
  }
  InFile(const InFile&) = delete;
  InFile& operator=(const InFile&) = delete;

  uint64_t size() const { return size_; }

  void read_at(uint64_t offset, void* dst, size_t bytes) {
    if (bytes == 0) return;
    if (::fseeko(file_, static_cast<off_t>(offset), SEEK_SET) != 0)
      fail("checkpoint ", path_, ": seek to byte ", offset, " failed: ", errno_str(errno));
    size_t got = std::fread(dst, 1, bytes, file_);
    if (got != bytes)
      fail("checkpoint ", path_, ": read ", got, " of ", bytes, " bytes at byte ", offset,
           std::ferror(file_) ? ": " + errno_str(errno) : std::string(" (file shrank?)"));
  }

 private:
  std::string path_;
  FILE* file_ = nullptr;
  uint64_t size_ = 0;
};

uint64_t parse_decimal(const std::string& path, const std::string& key, const std::string& text,
                       bool allow_negative, bool* negative) {
  size_t i = 0;
  *negative = false;
  if (allow_negative && !text.empty() && text[0] == '-') {
    *negative = true;
    i = 1;
  }
  STEADY_CHECK(i < text.size(), "checkpoint ", path, ": metadata '", key, "' is '", text,
               "', expected a decimal integer");
  uint64_t value = 0;
  for (; i < text.size(); ++i) {
    char c = text[i];
    STEADY_CHECK(c >= '0' && c <= '9', "checkpoint ", path, ": metadata '", key, "' is '", text,
                 "', expected a decimal integer");
    uint64_t digit = static_cast<uint64_t>(c - '0');
    STEADY_CHECK(value <= (UINT64_MAX - digit) / 10, "checkpoint ", path, ": metadata '", key,
                 "' = ", text, " does not fit in 64 bits");
    value = value * 10 + digit;
  }
  return value;
}

uint64_t meta_u64(const std::string& path, const ParsedHeader& h, const std::string& key) {
  auto it = h.metadata.find(key);
  STEADY_CHECK(it != h.metadata.end(), "checkpoint ", path, " has no metadata '", key, "'");
  bool negative;
  return parse_decimal(path, key, it->second, false, &negative);
}

int64_t meta_i64(const std::string& path, const ParsedHeader& h, const std::string& key) {
  auto it = h.metadata.find(key);
  STEADY_CHECK(it != h.metadata.end(), "checkpoint ", path, " has no metadata '", key, "'");
  bool negative;
  uint64_t mag = parse_decimal(path, key, it->second, true, &negative);
  uint64_t limit = negative ? (uint64_t{1} << 63) : (uint64_t{1} << 63) - 1;
  STEADY_CHECK(mag <= limit, "checkpoint ", path, ": metadata '", key, "' = ", it->second,
               " does not fit in 64 bits");
  return negative ? static_cast<int64_t>(0 - mag) : static_cast<int64_t>(mag);
}

// Reads and checks the header: JSON syntax, every entry's fields, and that all data lies in the
// file. Does not look at the model.
ParsedHeader read_header(const std::string& path, InFile& in) {
  ParsedHeader h;
  h.file_size = in.size();
  STEADY_CHECK(h.file_size >= 8, "checkpoint ", path, " is truncated: file has ", h.file_size,
               " bytes, fewer than the 8-byte header length");
  unsigned char len_bytes[8];
  in.read_at(0, len_bytes, 8);
  uint64_t header_len = 0;
  for (int i = 0; i < 8; ++i) header_len |= static_cast<uint64_t>(len_bytes[i]) << (8 * i);
  STEADY_CHECK(header_len <= kMaxHeaderBytes, "checkpoint ", path, " is not a safetensors file: ",
               "header length ", header_len, " bytes is implausible");
  STEADY_CHECK(header_len <= h.file_size - 8, "checkpoint ", path, " is truncated: header says ",
               8 + header_len, " bytes, file has ", h.file_size);
  h.data_start = 8 + header_len;

  std::string text(header_len, '\0');
  in.read_at(8, text.data(), header_len);
  const json header = parse_untrusted_json(text, "checkpoint " + path + ": header");
  STEADY_CHECK(header.is_object(), "checkpoint ", path, ": header is ", header.type_name(),
               ", expected a JSON object");

  uint64_t data_end = 0;
  std::string last_tensor;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const json& entry = it.value();
    if (name == "__metadata__") {
      STEADY_CHECK(entry.is_object(), "checkpoint ", path, ": __metadata__ is ", entry.type_name(),
                   ", expected an object");
      for (auto m = entry.begin(); m != entry.end(); ++m) {
        STEADY_CHECK(m.value().is_string(), "checkpoint ", path, ": metadata '", m.key(), "' is ",
                     m.value().type_name(), ", safetensors metadata must be strings");
        h.metadata[m.key()] = m.value().get<std::string>();
      }
      h.has_metadata = true;
      continue;
    }
    STEADY_CHECK(entry.is_object() && entry.contains("dtype") && entry.contains("shape") &&
                     entry.contains("data_offsets"),
                 "checkpoint ", path, ": tensor '", name,
                 "' needs dtype, shape and data_offsets in the header, got ", brief_json(entry));
    const json& dtype = entry["dtype"];
    STEADY_CHECK(dtype.is_string(), "checkpoint ", path, ": tensor '", name, "' has dtype ",
                 brief_json(dtype), ", expected \"F32\"");
    STEADY_CHECK(dtype.get<std::string>() == "F32", "checkpoint ", path, ": tensor '", name,
                 "' has dtype ", dtype.get<std::string>(), ", only F32 is supported");
    FileTensor t;
    t.name = name;
    const json& shape = entry["shape"];
    STEADY_CHECK(shape.is_array(), "checkpoint ", path, ": tensor '", name, "' has shape ",
                 brief_json(shape), ", expected a list of sizes");
    uint64_t numel = 1;
    for (const json& d : shape) {
      STEADY_CHECK(d.is_number_unsigned() && d.get<uint64_t>() <= (uint64_t{1} << 40),
                   "checkpoint ", path, ": tensor '", name, "' has shape ", brief_json(shape),
                   ", expected non-negative sizes");
      t.shape.push_back(static_cast<int64_t>(d.get<uint64_t>()));
      numel *= d.get<uint64_t>();
      STEADY_CHECK(numel <= (uint64_t{1} << 40), "checkpoint ", path, ": tensor '", name,
                   "' has implausible shape ", brief_json(shape));
    }
    const json& offsets = entry["data_offsets"];
    STEADY_CHECK(offsets.is_array() && offsets.size() == 2 && offsets[0].is_number_unsigned() &&
                     offsets[1].is_number_unsigned(),
                 "checkpoint ", path, ": tensor '", name, "' has data_offsets ", brief_json(offsets),
                 ", expected [begin, end]");
    t.begin = offsets[0].get<uint64_t>();
    t.end = offsets[1].get<uint64_t>();
    STEADY_CHECK(t.begin <= t.end && t.end - t.begin == numel * sizeof(float), "checkpoint ", path,
                 ": tensor '", name, "' has data_offsets [", t.begin, ", ", t.end, "] (",
                 t.end - t.begin, " bytes) but shape ", dims_str(t.shape), " of F32 needs ",
                 numel * sizeof(float), " bytes");
    if (t.end > data_end) {
      data_end = t.end;
      last_tensor = name;
    }
    h.tensors[name] = t;
  }

  // The tensors tile the data block: no overlap, no hole (the safetensors rule).
  std::vector<std::pair<uint64_t, std::string>> starts;
  for (const auto& [name, t] : h.tensors) starts.push_back({t.begin, name});
  std::sort(starts.begin(), starts.end());
  uint64_t next = 0;
  for (const auto& [begin, name] : starts) {
    STEADY_CHECK(begin == next, "checkpoint ", path, ": tensor '", name, "' starts at byte ", begin,
                 " of the data, expected ", next, begin < next ? " (it overlaps the one before)" : " (a hole before it)");
    next = h.tensors.at(name).end;
  }
  uint64_t expected = h.data_start + data_end;
  STEADY_CHECK(expected <= h.file_size, "checkpoint ", path, " is truncated: header says ", expected,
               " bytes, file has ", h.file_size, " (tensor '", last_tensor, "' ends at byte ",
               expected, ")");
  STEADY_CHECK(expected == h.file_size, "checkpoint ", path, " has ", h.file_size - expected,
               " bytes after the last tensor (header says ", expected, " bytes, file has ",
               h.file_size, ")");
  return h;
}

CheckpointMeta meta_from_header(const std::string& path, const ParsedHeader& h) {
  STEADY_CHECK(h.has_metadata, "checkpoint ", path,
               " has no __metadata__ (not written by steady's save_checkpoint)");
  auto format = h.metadata.find("format");
  STEADY_CHECK(format != h.metadata.end(), "checkpoint ", path, " has no metadata 'format'");
  STEADY_CHECK(format->second == kFormat, "checkpoint ", path, " has format '", format->second,
               "', this build reads '", kFormat, "'");
  CheckpointMeta meta;
  meta.step = meta_i64(path, h, "step");
  STEADY_CHECK(meta.step >= 0 && meta.step <= kMaxSteps, "checkpoint ", path, ": step ", meta.step,
               " is outside [0, ", kMaxSteps, "]");
  meta.rng_seed = meta_u64(path, h, "rng_seed");
  meta.rng_counter = meta_u64(path, h, "rng_counter");
  auto config = h.metadata.find("config");
  STEADY_CHECK(config != h.metadata.end(), "checkpoint ", path, " has no metadata 'config'");
  meta.config = config->second;
  return meta;
}

// Checks that the file has `name` with the entry's shape; returns it.
const FileTensor& expect_tensor(const std::string& path, const ParsedHeader& h,
                                const std::string& name, const Shape& shape) {
  auto it = h.tensors.find(name);
  STEADY_CHECK(it != h.tensors.end(), "checkpoint ", path, " has no tensor '", name,
               "' (model expects f32", dims_str(shape), ")");
  STEADY_CHECK(it->second.shape == shape, "checkpoint ", path, ": tensor '", name, "' is ",
               dims_str(it->second.shape), " in the file, ", dims_str(shape), " in the model");
  return it->second;
}

// Reads the file's tensors for `entries` (with `prefix`) into one host buffer laid out like
// the store's flat buffer.
Tensor read_flat(const std::string& path, InFile& in, const ParsedHeader& h,
                 const std::string& prefix, const std::vector<ParamEntry>& entries,
                 int64_t total) {
  Tensor host = Tensor::empty({total}, Device::CPU, DType::F32);
  float* dst = host.data<float>();
  for (const ParamEntry& e : entries) {
    const FileTensor& t = h.tensors.at(prefix + e.name);
    in.read_at(h.data_start + t.begin, dst + e.offset, static_cast<size_t>(t.end - t.begin));
  }
  return host;
}

}  // namespace

json parse_untrusted_json(const std::string& text, const std::string& what) {
  // The parser itself keeps its own stack, but a deep value is destroyed and printed by
  // recursion: refuse it while parsing.
  struct TooDeep {};
  try {
    return json::parse(text, [](int depth, json::parse_event_t, json&) {
      if (depth > kMaxJsonDepth) throw TooDeep{};
      return true;
    });
  } catch (const TooDeep&) {
    fail(what, " nests deeper than ", kMaxJsonDepth, " levels");
  } catch (const json::exception& e) {
    fail(what, " is not valid JSON (", e.what(), ")");
  }
}

std::string brief_json(const json& value, size_t max_chars) {
  std::string s = value.dump();  // bounded depth: values come from parse_untrusted_json
  if (s.size() > max_chars) s = s.substr(0, max_chars) + "... (" + std::to_string(s.size()) + " characters)";
  return s;
}

json checkpoint_config(const std::string& path, const CheckpointMeta& meta) {
  json config = parse_untrusted_json(meta.config, "checkpoint " + path + ": config");
  STEADY_CHECK(config.is_object(), "checkpoint ", path, ": config is ", config.type_name(),
               ", expected a JSON object");
  return config;
}

std::string checkpoint_task(const std::string& path, const CheckpointMeta& meta) {
  const json config = checkpoint_config(path, meta);
  const auto it = config.find("task");
  if (it == config.end()) return "";
  STEADY_CHECK(it->is_string(), "checkpoint ", path, ": config task is ", brief_json(*it),
               ", expected \"hdr\" or \"color\"");
  return it->get<std::string>();
}

CheckpointMeta read_checkpoint_meta(const std::string& path) {
  InFile in(path);
  ParsedHeader h = read_header(path, in);
  return meta_from_header(path, h);
}

CheckpointMeta load_checkpoint(const std::string& path, ParamStore& store, Adam* optimizer) {
  STEADY_CHECK(store.finalized(), "load_checkpoint: finalize() the parameter store before loading ",
               path);
  InFile in(path);
  ParsedHeader h = read_header(path, in);
  CheckpointMeta meta = meta_from_header(path, h);

  // Every name the model has must be in the file with the same shape...
  std::set<std::string> expected;
  for (const ParamEntry& e : store.params()) {
    expect_tensor(path, h, "param." + e.name, e.shape);
    expected.insert("param." + e.name);
  }
  for (const ParamEntry& e : store.buffers()) {
    expect_tensor(path, h, "buffer." + e.name, e.shape);
    expected.insert("buffer." + e.name);
  }
  // ...Adam moments are all there or all absent; a weights-only load ignores them...
  bool file_has_adam = false;
  for (const auto& kv : h.tensors)
    if (kv.first.rfind("adam.", 0) == 0) file_has_adam = true;
  std::set<std::string> adam_names;
  for (const ParamEntry& e : store.params()) {
    adam_names.insert("adam.m." + e.name);
    adam_names.insert("adam.v." + e.name);
  }
  bool load_adam = optimizer && file_has_adam;
  if (load_adam)
    for (const ParamEntry& e : store.params()) {
      expect_tensor(path, h, "adam.m." + e.name, e.shape);
      expect_tensor(path, h, "adam.v." + e.name, e.shape);
    }
  // ...and the file has nothing the model does not know.
  std::vector<std::string> extra;
  for (const auto& kv : h.tensors) {
    const std::string& name = kv.first;
    if (expected.count(name) || adam_names.count(name)) continue;
    extra.push_back("'" + name + "' f32" + dims_str(kv.second.shape));
  }
  if (!extra.empty()) {
    std::ostringstream os;
    for (size_t i = 0; i < extra.size() && i < 8; ++i) os << (i ? ", " : "") << extra[i];
    if (extra.size() > 8) os << " and " << extra.size() - 8 << " more";
    fail("checkpoint ", path, " has ", extra.size(), " tensor", extra.size() == 1 ? "" : "s",
         " the model does not: ", os.str());
  }
  int64_t adam_step = 0;
  if (load_adam) adam_step = meta_i64(path, h, "adam_step");
  STEADY_CHECK(adam_step >= 0 && adam_step <= kMaxSteps, "checkpoint ", path, ": adam_step ",
               adam_step, " is outside [0, ", kMaxSteps, "]");

  // All checks passed: read everything, then copy into the store on its own device.
  Tensor values = read_flat(path, in, h, "param.", store.params(), store.num_trainable());
  Tensor buffers = read_flat(path, in, h, "buffer.", store.buffers(), store.num_buffer_values());
  Tensor m, v;
  if (load_adam) {
    m = read_flat(path, in, h, "adam.m.", store.params(), store.num_trainable());
    v = read_flat(path, in, h, "adam.v.", store.params(), store.num_trainable());
  }
  // Non-finite weights, statistics or moments would only carry a diverged run on.
  const auto check_finite = [&](const Tensor& t, const char* what) {
    const float* p = t.data<float>();
    for (int64_t i = 0; i < t.numel(); ++i)
      STEADY_CHECK(std::isfinite(p[i]), "checkpoint ", path, " holds a non-finite value (",
                   p[i], ") in its ", what, ": a diverged run? Use an earlier checkpoint");
  };
  check_finite(values, "weights");
  check_finite(buffers, "batch-norm statistics");
  if (load_adam) check_finite(m, "Adam moments"), check_finite(v, "Adam moments");
  store.values.copy_from(values);
  store.buffer_values.copy_from(buffers);
  if (load_adam) {
    Device d = store.device();
    if (!optimizer->m.defined() || optimizer->m.shape() != values.shape() ||
        optimizer->m.device() != d || optimizer->m.dtype() != DType::F32)
      optimizer->m = Tensor::empty(values.shape(), d);
    if (!optimizer->v.defined() || optimizer->v.shape() != values.shape() ||
        optimizer->v.device() != d || optimizer->v.dtype() != DType::F32)
      optimizer->v = Tensor::empty(values.shape(), d);
    optimizer->m.copy_from(m);
    optimizer->v.copy_from(v);
    optimizer->set_steps(adam_step);
  }
  return meta;
}

}  // namespace steady
