// Checkpoints (engine/checkpoint.cpp): bit-exact round trips of weights, buffers, Adam moments,
// step, RNG state and config; the file checked as safetensors by an independent header parser;
// every kind of bad file and mismatched model rejected with a message that says what differs;
// atomic writes (no temp file left, replacing an old checkpoint, failed writes leave no trace).
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/checkpoint.h"

using namespace steady;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// A fresh folder per test case, removed afterwards.
struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "steady_ckpt_XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string file(const std::string& name) const { return (path / name).string(); }
  std::vector<std::string> listing() const {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(path)) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }
};

// A small model: conv weights, bias, batch-norm scale, a 1x1 decoder, and two running stats.
// conv1_out changes conv1.w's shape; extra_param / drop_dec add or remove a parameter.
struct ModelSpec {
  int64_t conv1_out = 16;
  bool extra_param = false;
  bool drop_dec = false;
};

void declare(ParamStore& store, const ModelSpec& spec = {}) {
  store.add_param("conv1.w", {spec.conv1_out, 3, 3, 3}, Init::HeNormal, 27, spec.conv1_out * 9);
  store.add_param("conv1.b", {spec.conv1_out}, Init::Zeros);
  store.add_param("bn1.gamma", {spec.conv1_out}, Init::Ones);
  if (!spec.drop_dec) store.add_param("dec.w", {3, spec.conv1_out, 1, 1}, Init::XavierUniform,
                                      spec.conv1_out, 3);
  if (spec.extra_param) store.add_param("conv2.w", {8, 16, 3, 3}, Init::HeNormal, 144, 72);
  store.add_buffer("bn1.running_mean", {spec.conv1_out}, Init::Zeros);
  store.add_buffer("bn1.running_var", {spec.conv1_out}, Init::Ones);
}

void fill_random(Tensor& t, Rng& rng, double lo, double hi) {
  float* p = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<float>(rng.uniform(lo, hi));
}

// A store with every value distinct from a fresh one made with another seed, buffers included.
void make_store(ParamStore& store, uint64_t seed, const ModelSpec& spec = {}) {
  declare(store, spec);
  Rng rng(seed);
  store.finalize(Device::CPU, rng);
  fill_random(store.buffer_values, rng, -3.0, 3.0);
}

// Adam moments filled directly with random values (independent of the Adam kernel), and a step.
void make_adam(Adam& adam, const ParamStore& store, uint64_t seed, int64_t steps) {
  adam.attach(store);
  Rng rng(seed);
  fill_random(adam.m, rng, -1.0, 1.0);
  fill_random(adam.v, rng, 0.0, 0.01);
  adam.set_steps(steps);
}

// Both of the above.
void make_store_and_adam(ParamStore& store, uint64_t store_seed, Adam& adam, uint64_t adam_seed,
                         int64_t steps) {
  make_store(store, store_seed);
  make_adam(adam, store, adam_seed, steps);
}

bool same_bits(const Tensor& a, const Tensor& b) {
  Tensor ha = a.to(Device::CPU), hb = b.to(Device::CPU);
  return ha.shape() == hb.shape() && ha.dtype() == hb.dtype() &&
         std::memcmp(ha.raw(), hb.raw(), ha.nbytes()) == 0;
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.good());
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out.good());
}

// A safetensors file from a header and data, laid out by hand (padding the header to 8 bytes).
std::string make_file(const json& header, const std::string& data) {
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((uint64_t)text.size() >> (8 * i));
  return out + text + data;
}

// The header of a file, parsed independently of the loader.
json parse_header(const std::string& bytes, uint64_t* header_len) {
  REQUIRE(bytes.size() >= 8);
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= (uint64_t)(unsigned char)bytes[i] << (8 * i);
  REQUIRE(8 + n <= bytes.size());
  *header_len = n;
  return json::parse(bytes.substr(8, n));
}

// The message of the steady::Error that f throws ("" when it throws nothing).
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

const CheckpointMeta kMeta = [] {
  CheckpointMeta m;
  m.step = 123456789012LL;
  m.rng_seed = 0xFEDCBA9876543210ull;  // above INT64_MAX: must survive as unsigned decimal
  m.rng_counter = 987654321ull;
  m.config = "{\"model\": \"hdr\", \"lr\": 0.0001, \"note\": \"quotes \\\" and\\nnewline, \xc3\xa9\"}";
  return m;
}();

// make_store_and_adam, then a checkpoint of both with kMeta at dir/ckpt.safetensors; the path.
std::string saved_store_and_adam(const TempDir& dir, ParamStore& store, uint64_t store_seed,
                                 Adam& adam, uint64_t adam_seed, int64_t steps) {
  make_store_and_adam(store, store_seed, adam, adam_seed, steps);
  const std::string path = dir.file("ckpt.safetensors");
  save_checkpoint(path, store, &adam, kMeta);
  return path;
}

}  // namespace

TEST_CASE("checkpoint: save then load restores weights, buffers, Adam, step, RNG and config") {
  ParamStore a;
  Adam adam_a;
  make_store_and_adam(a, 1, adam_a, 2, 37);
  Rng rng(kMeta.rng_seed, kMeta.rng_counter);
  for (int i = 0; i < 5; ++i) rng.next_block();  // the run has drawn some numbers since
  CheckpointMeta meta = kMeta;
  meta.rng_seed = rng.seed();
  meta.rng_counter = rng.counter();
  TempDir dir;
  const std::string path = dir.file("run.safetensors");
  save_checkpoint(path, a, &adam_a, meta);

  ParamStore b;
  make_store(b, 99);
  REQUIRE_FALSE(same_bits(a.values, b.values));
  REQUIRE_FALSE(same_bits(a.buffer_values, b.buffer_values));
  Adam adam_b;  // not attached: loading allocates the moments
  CheckpointMeta got = load_checkpoint(path, b, &adam_b);

  CHECK(same_bits(a.values, b.values));
  CHECK(same_bits(a.buffer_values, b.buffer_values));
  CHECK(same_bits(adam_a.m, adam_b.m));
  CHECK(same_bits(adam_a.v, adam_b.v));
  CHECK(adam_b.steps() == 37);
  CHECK(got.step == meta.step);
  CHECK(got.rng_seed == meta.rng_seed);
  CHECK(got.rng_counter == meta.rng_counter);
  CHECK(got.config == meta.config);
  // The restored generator continues the run's stream exactly.
  Rng resumed(got.rng_seed, got.rng_counter);
  for (int i = 0; i < 4; ++i) CHECK(resumed.next_u32() == rng.next_u32());
  // Views into the store see the loaded values.
  CHECK(same_bits(a.param(0).value(), b.param(0).value()));
  CHECK(same_bits(a.buffer(1), b.buffer(1)));

  // Into an already attached optimizer too.
  ParamStore c;
  Adam adam_c;
  make_store_and_adam(c, 7, adam_c, 8, 3);
  load_checkpoint(path, c, &adam_c);
  CHECK(same_bits(adam_a.m, adam_c.m));
  CHECK(same_bits(adam_a.v, adam_c.v));
  CHECK(adam_c.steps() == 37);

  CheckpointMeta only = read_checkpoint_meta(path);
  CHECK(only.step == meta.step);
  CHECK(only.rng_seed == meta.rng_seed);
  CHECK(only.rng_counter == meta.rng_counter);
  CHECK(only.config == meta.config);
}

TEST_CASE("checkpoint: the file is valid safetensors, checked by an independent parser") {
  TempDir dir;
  ParamStore store;
  Adam adam;
  const std::string path = saved_store_and_adam(dir, store, 3, adam, 4, 11);
  // For checking with an independent reader: tests/check_safetensors.py $STEADY_KEEP_CHECKPOINT
  if (const char* keep = std::getenv("STEADY_KEEP_CHECKPOINT"))
    fs::copy_file(path, keep, fs::copy_options::overwrite_existing);

  std::string bytes = read_bytes(path);
  uint64_t n = 0;
  json header = parse_header(bytes, &n);
  CHECK(n % 8 == 0);
  CHECK(bytes[8] == '{');
  uint64_t data_size = bytes.size() - 8 - n;

  REQUIRE(header.contains("__metadata__"));
  const json& md = header["__metadata__"];
  for (auto it = md.begin(); it != md.end(); ++it) CHECK(it.value().is_string());
  CHECK(md["format"] == "steady-1");
  CHECK(md["step"] == "123456789012");
  CHECK(md["rng_seed"] == "18364758544493064720");
  CHECK(md["rng_counter"] == "987654321");
  CHECK(md["adam_step"] == "11");
  CHECK(md["config"] == kMeta.config);

  // Exactly the expected names, with the model's shapes.
  std::vector<std::string> want;
  for (const auto& e : store.params()) want.push_back("param." + e.name);
  for (const auto& e : store.buffers()) want.push_back("buffer." + e.name);
  for (const auto& e : store.params()) want.push_back("adam.m." + e.name);
  for (const auto& e : store.params()) want.push_back("adam.v." + e.name);
  std::vector<std::string> have;
  for (auto it = header.begin(); it != header.end(); ++it)
    if (it.key() != "__metadata__") have.push_back(it.key());
  std::sort(want.begin(), want.end());
  std::sort(have.begin(), have.end());
  CHECK(have == want);

  // Offsets sorted by begin tile [0, data_size) with no gap or overlap, sizes match shapes.
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") continue;
    const json& e = it.value();
    CHECK(e["dtype"] == "F32");
    uint64_t numel = 1;
    for (const json& d : e["shape"]) numel *= d.get<uint64_t>();
    uint64_t begin = e["data_offsets"][0], end = e["data_offsets"][1];
    CHECK(end - begin == numel * 4);
    ranges.push_back({begin, end});
  }
  std::sort(ranges.begin(), ranges.end());
  uint64_t at = 0;
  for (const auto& r : ranges) {
    CHECK(r.first == at);
    at = r.second;
  }
  CHECK(at == data_size);

  // The bytes of two tensors, read by hand, are the store's values.
  for (const auto& e : {store.params()[0], store.params()[3]}) {
    const json& t = header["param." + e.name];
    uint64_t begin = t["data_offsets"][0];
    std::vector<float> file_values(shape_numel(e.shape));
    std::memcpy(file_values.data(), bytes.data() + 8 + n + begin, file_values.size() * 4);
    CHECK(std::memcmp(file_values.data(), store.values.data<float>() + e.offset,
                      file_values.size() * 4) == 0);
  }
  const json& mt = header["adam.v.bn1.gamma"];
  uint64_t begin = mt["data_offsets"][0];
  int64_t off = store.params()[2].offset;
  CHECK(std::memcmp(bytes.data() + 8 + n + begin, adam.v.data<float>() + off, 16 * 4) == 0);
}

TEST_CASE("checkpoint: weights only, and a weights-only load of a full checkpoint") {
  TempDir dir;
  ParamStore a;
  make_store(a, 5);
  save_checkpoint(dir.file("w.safetensors"), a, nullptr, kMeta);
  uint64_t n;
  json header = parse_header(read_bytes(dir.file("w.safetensors")), &n);
  for (auto it = header.begin(); it != header.end(); ++it)
    CHECK(it.key().rfind("adam.", 0) == std::string::npos);
  CHECK_FALSE(header["__metadata__"].contains("adam_step"));

  // An optimizer given to a load of a weights-only file keeps its state.
  ParamStore b;
  Adam adam;
  make_store_and_adam(b, 6, adam, 9, 4);
  Tensor m_before = adam.m.clone();
  load_checkpoint(dir.file("w.safetensors"), b, &adam);
  CHECK(same_bits(a.values, b.values));
  CHECK(same_bits(adam.m, m_before));
  CHECK(adam.steps() == 4);

  // A full checkpoint loads without an optimizer (inference): Adam tensors are skipped.
  Adam adam_a;
  make_adam(adam_a, a, 10, 2);
  save_checkpoint(dir.file("full.safetensors"), a, &adam_a, kMeta);
  ParamStore c;
  make_store(c, 11);
  load_checkpoint(dir.file("full.safetensors"), c, nullptr);
  CHECK(same_bits(a.values, c.values));
}

TEST_CASE("checkpoint: atomic writes leave no temp file and replace an old checkpoint") {
  TempDir dir;
  std::string path = dir.file("ckpt.safetensors");
  ParamStore a, b;
  make_store(a, 20);
  make_store(b, 21);
  save_checkpoint(path, a, nullptr, kMeta);
  CHECK(dir.listing() == std::vector<std::string>{"ckpt.safetensors"});

  CheckpointMeta later = kMeta;
  later.step = 5;
  save_checkpoint(path, b, nullptr, later);
  CHECK(dir.listing() == std::vector<std::string>{"ckpt.safetensors"});
  ParamStore c;
  make_store(c, 22);
  CHECK(load_checkpoint(path, c, nullptr).step == 5);
  CHECK(same_bits(b.values, c.values));
  CHECK_FALSE(same_bits(a.values, c.values));

  // A relative path (no folder part) writes in the current folder.
  fs::path cwd = fs::current_path();
  fs::current_path(dir.path);
  save_checkpoint("rel.safetensors", a, nullptr, kMeta);
  fs::current_path(cwd);
  CHECK(fs::exists(dir.file("rel.safetensors")));
}

TEST_CASE("checkpoint: save errors: missing folder, a write that fails part way") {
  TempDir dir;
  ParamStore a;
  make_store(a, 30);
  std::string msg = error_of([&] { save_checkpoint(dir.file("nope/ckpt.safetensors"), a, nullptr, kMeta); });
  CHECK(msg.find("folder") != std::string::npos);
  CHECK(msg.find("does not exist") != std::string::npos);
  CHECK_FALSE(fs::exists(dir.file("nope")));

  ParamStore unfinalized;
  declare(unfinalized);
  CHECK(error_of([&] { save_checkpoint(dir.file("x"), unfinalized, nullptr, kMeta); })
            .find("not finalized") != std::string::npos);
  Adam detached;
  CHECK(error_of([&] { save_checkpoint(dir.file("x"), a, &detached, kMeta); })
            .find("attach()") != std::string::npos);

  // A file size limit makes write() fail with EFBIG part way, like a full disk: the error is
  // clear, the temp file is removed, and the checkpoint already there is untouched.
  std::string path = dir.file("ckpt.safetensors");
  save_checkpoint(path, a, nullptr, kMeta);
  std::string before = read_bytes(path);
  ParamStore b;
  make_store(b, 31);
  struct rlimit old_limit;
  REQUIRE(::getrlimit(RLIMIT_FSIZE, &old_limit) == 0);
  auto old_handler = ::signal(SIGXFSZ, SIG_IGN);
  struct rlimit small = old_limit;
  small.rlim_cur = 1024;
  REQUIRE(::setrlimit(RLIMIT_FSIZE, &small) == 0);
  msg = error_of([&] { save_checkpoint(path, b, nullptr, kMeta); });
  ::setrlimit(RLIMIT_FSIZE, &old_limit);
  ::signal(SIGXFSZ, old_handler);
  CHECK(msg.find("save_checkpoint: writing") != std::string::npos);
  CHECK(msg.find(path) != std::string::npos);
  CHECK(dir.listing() == std::vector<std::string>{"ckpt.safetensors"});
  CHECK(read_bytes(path) == before);
}

TEST_CASE("checkpoint: load errors say exactly what differs, and leave the model unchanged") {
  TempDir dir;
  ParamStore a;
  Adam adam;
  const std::string path = saved_store_and_adam(dir, a, 40, adam, 41, 6);
  std::string good = read_bytes(path);

  SUBCASE("missing file") {
    ParamStore b;
    make_store(b, 42);
    std::string msg = error_of([&] { load_checkpoint(dir.file("absent.safetensors"), b, nullptr); });
    CHECK(msg == "checkpoint " + dir.file("absent.safetensors") + " does not exist");
    CHECK(error_of([&] { read_checkpoint_meta(dir.file("absent")); }).find("does not exist") !=
          std::string::npos);
  }
  SUBCASE("truncated in the data") {
    std::string cut = dir.file("cut.safetensors");
    write_bytes(cut, good.substr(0, good.size() - 100));
    ParamStore b;
    make_store(b, 42);
    Tensor before = b.values.clone();
    std::string msg = error_of([&] { load_checkpoint(cut, b, &adam); });
    CHECK(msg.find("checkpoint " + cut + " is truncated: header says " +
                   std::to_string(good.size()) + " bytes, file has " +
                   std::to_string(good.size() - 100)) == 0);
    CHECK(same_bits(b.values, before));
    // The metadata reader checks the same.
    CHECK(error_of([&] { read_checkpoint_meta(cut); }).find("is truncated") != std::string::npos);
  }
  SUBCASE("truncated in the header, and before the header length") {
    std::string cut = dir.file("cut.safetensors");
    write_bytes(cut, good.substr(0, 40));
    ParamStore b;
    make_store(b, 42);
    std::string msg = error_of([&] { load_checkpoint(cut, b, nullptr); });
    CHECK(msg.find("is truncated: header says") != std::string::npos);
    CHECK(msg.find("file has 40") != std::string::npos);
    write_bytes(cut, good.substr(0, 5));
    msg = error_of([&] { load_checkpoint(cut, b, nullptr); });
    CHECK(msg.find("is truncated: file has 5 bytes") != std::string::npos);
  }
  SUBCASE("bytes after the last tensor") {
    std::string longer = dir.file("long.safetensors");
    write_bytes(longer, good + "junk");
    ParamStore b;
    make_store(b, 42);
    CHECK(error_of([&] { load_checkpoint(longer, b, nullptr); })
              .find("has 4 bytes after the last tensor") != std::string::npos);
  }
  SUBCASE("wrong shape") {
    ParamStore b;
    ModelSpec spec;
    spec.conv1_out = 32;
    make_store(b, 42, spec);
    Tensor before = b.values.clone();
    std::string msg = error_of([&] { load_checkpoint(path, b, nullptr); });
    CHECK(msg == "checkpoint " + path +
                     ": tensor 'param.conv1.w' is [16,3,3,3] in the file, [32,3,3,3] in the model");
    CHECK(same_bits(b.values, before));
  }
  SUBCASE("model has a tensor the file lacks") {
    ParamStore b;
    ModelSpec spec;
    spec.extra_param = true;
    make_store(b, 42, spec);
    CHECK(error_of([&] { load_checkpoint(path, b, nullptr); }) ==
          "checkpoint " + path + " has no tensor 'param.conv2.w' (model expects f32[8,16,3,3])");
  }
  SUBCASE("file has a tensor the model lacks") {
    ParamStore b;
    ModelSpec spec;
    spec.drop_dec = true;
    make_store(b, 42, spec);
    std::string msg = error_of([&] { load_checkpoint(path, b, nullptr); });
    CHECK(msg.find("the model does not") != std::string::npos);
    CHECK(msg.find("'param.dec.w' f32[3,16,1,1]") != std::string::npos);
    // With an optimizer the unmatched Adam moments are named too.
    Adam other;
    msg = error_of([&] { load_checkpoint(path, b, &other); });
    CHECK(msg.find("'adam.m.dec.w'") != std::string::npos);
    CHECK(msg.find("'adam.v.dec.w'") != std::string::npos);
  }
}

TEST_CASE("checkpoint: non-finite weights, statistics or moments are refused at load") {
  TempDir dir;
  for (int which = 0; which < 3; ++which) {
    CAPTURE(which);
    ParamStore store;
    Adam adam;
    make_store_and_adam(store, 7, adam, 8, 3);
    Tensor& t = which == 0 ? store.values : which == 1 ? store.buffer_values : adam.v;
    t.data<float>()[t.numel() / 2] = which == 1 ? INFINITY : NAN;
    const std::string path = dir.file("nan.safetensors");
    save_checkpoint(path, store, &adam, kMeta);
    ParamStore fresh;
    Adam fresh_adam;
    make_store_and_adam(fresh, 9, fresh_adam, 10, 0);
    const std::string msg = error_of([&] { load_checkpoint(path, fresh, &fresh_adam); });
    CHECK(msg.find("holds a non-finite value") != std::string::npos);
  }
}

TEST_CASE("checkpoint: malformed headers are rejected clearly") {
  TempDir dir;
  std::string path = dir.file("bad.safetensors");
  ParamStore store;
  declare(store);
  Rng rng(50);
  store.finalize(Device::CPU, rng);
  json md = {{"format", "steady-1"}, {"step", "1"}, {"rng_seed", "2"}, {"rng_counter", "3"},
             {"config", "{}"}};
  std::string four(4 * 16, '\0');
  auto load_error = [&](const std::string& bytes) {
    write_bytes(path, bytes);
    return error_of([&] { load_checkpoint(path, store, nullptr); });
  };

  SUBCASE("header not JSON") {
    std::string bytes = make_file(json::object(), "");
    std::string text = "{\"param.a\": [1, 2";
    text.append((8 - text.size() % 8) % 8, ' ');
    std::string len(8, '\0');
    len[0] = static_cast<char>(text.size());
    std::string msg = load_error(len + text);
    CHECK(msg.find("header is not valid JSON") != std::string::npos);
  }
  SUBCASE("dtype not F32") {
    json h = {{"param.conv1.b", {{"dtype", "F16"}, {"shape", {16}}, {"data_offsets", {0, 32}}}},
              {"__metadata__", md}};
    CHECK(load_error(make_file(h, std::string(32, '\0')))
              .find("tensor 'param.conv1.b' has dtype F16, only F32 is supported") !=
          std::string::npos);
  }
  SUBCASE("data_offsets past the end") {
    json h = {{"param.conv1.b", {{"dtype", "F32"}, {"shape", {16}}, {"data_offsets", {0, 64}}}},
              {"buffer.x", {{"dtype", "F32"}, {"shape", {16}}, {"data_offsets", {64, 128}}}},
              {"__metadata__", md}};
    std::string msg = load_error(make_file(h, std::string(64, '\0')));
    CHECK(msg.find("is truncated") != std::string::npos);
    CHECK(msg.find("tensor 'buffer.x' ends at byte") != std::string::npos);
  }
  SUBCASE("data_offsets disagree with the shape") {
    json h = {{"param.conv1.b", {{"dtype", "F32"}, {"shape", {16}}, {"data_offsets", {0, 60}}}},
              {"__metadata__", md}};
    CHECK(load_error(make_file(h, std::string(60, '\0'))).find("needs 64 bytes") !=
          std::string::npos);
  }
  SUBCASE("metadata missing or not steady's") {
    json h = json::object();
    CHECK(load_error(make_file(h, "")).find("has no __metadata__") != std::string::npos);
    json other = md;
    other["format"] = "pytorch";
    CHECK(load_error(make_file({{"__metadata__", other}}, "")).find("has format 'pytorch'") !=
          std::string::npos);
    json bad_step = md;
    bad_step["step"] = "12x";
    CHECK(load_error(make_file({{"__metadata__", bad_step}}, ""))
              .find("metadata 'step' is '12x', expected a decimal integer") != std::string::npos);
    json number = md;
    number["step"] = 12;
    CHECK(load_error(make_file({{"__metadata__", number}}, ""))
              .find("metadata must be strings") != std::string::npos);
  }
  SUBCASE("deeply nested JSON is refused while parsing, never printed or destroyed recursively") {
    for (const std::string& where : {std::string("under a key"), std::string("as a shape")}) {
      CAPTURE(where);
      std::string nested = std::string(200000, '[') + std::string(200000, ']');
      std::string text = where == "as a shape"
          ? "{\"param.a\": {\"dtype\": \"F32\", \"shape\": " + nested + ", \"data_offsets\": [0, 0]}}"
          : "{\"x\": " + nested + "}";
      text.append((8 - text.size() % 8) % 8, ' ');
      std::string len(8, '\0');
      for (int i = 0; i < 8; ++i) len[i] = static_cast<char>((uint64_t)text.size() >> (8 * i));
      CHECK(load_error(len + text).find("nests deeper than 64 levels") != std::string::npos);
    }
    // And in the config a tool reads.
    CheckpointMeta deep;
    deep.config = std::string(100000, '[') + std::string(100000, ']');
    CHECK(error_of([&] { checkpoint_task(path, deep); }).find("nests deeper") != std::string::npos);
    deep.config = "[1]";
    CHECK(error_of([&] { checkpoint_task(path, deep); }).find("config is array") != std::string::npos);
    deep.config = "{\"task\": 5}";
    CHECK(error_of([&] { checkpoint_task(path, deep); }).find("config task is 5") != std::string::npos);
  }
  SUBCASE("steps outside [0, 2^40] are refused") {
    for (const char* step : {"-1", "-9223372036854775808", "9223372036854775807"}) {
      json bad = md;
      bad["step"] = step;
      CHECK(load_error(make_file({{"__metadata__", bad}}, "")).find("is outside [0, ") != std::string::npos);
    }
  }
  SUBCASE("overlapping tensors and holes are refused (safetensors forbids both)") {
    json overlap = {{"param.a", {{"dtype", "F32"}, {"shape", {4}}, {"data_offsets", {0, 16}}}},
                    {"param.b", {{"dtype", "F32"}, {"shape", {4}}, {"data_offsets", {8, 24}}}},
                    {"__metadata__", md}};
    CHECK(load_error(make_file(overlap, std::string(24, '\0'))).find("overlaps") != std::string::npos);
    json hole = {{"param.a", {{"dtype", "F32"}, {"shape", {4}}, {"data_offsets", {0, 16}}}},
                 {"param.b", {{"dtype", "F32"}, {"shape", {4}}, {"data_offsets", {20, 36}}}},
                 {"__metadata__", md}};
    CHECK(load_error(make_file(hole, std::string(36, '\0'))).find("a hole before it") != std::string::npos);
  }
  SUBCASE("a valid hand-made file with all tensors missing names the first") {
    CHECK(load_error(make_file({{"__metadata__", md}}, "")) ==
          "checkpoint " + path + " has no tensor 'param.conv1.w' (model expects f32[16,3,3,3])");
  }
}

TEST_CASE("checkpoint: a resumed optimizer continues exactly (real Adam steps)") {
  TempDir dir;
  std::string path = dir.file("ckpt.safetensors");
  ParamStore a;
  make_store(a, 60);
  Adam adam_a(AdamArgs{1e-2f, 0.9f, 0.999f, 1e-8f, 0.01f});
  adam_a.attach(a);
  Rng grads_rng(61);
  for (int i = 0; i < 3; ++i) {
    fill_random(a.grads, grads_rng, -1.0, 1.0);
    adam_a.step(a);
  }
  save_checkpoint(path, a, &adam_a, kMeta);

  ParamStore b;
  make_store(b, 62);
  Adam adam_b(adam_a.args());
  load_checkpoint(path, b, &adam_b);
  CHECK(adam_b.steps() == 3);
  // The same gradients from here on give bit-identical trajectories.
  for (int i = 0; i < 2; ++i) {
    fill_random(a.grads, grads_rng, -1.0, 1.0);
    b.grads.copy_from(a.grads);
    adam_a.step(a);
    adam_b.step(b);
  }
  CHECK(same_bits(a.values, b.values));
  CHECK(same_bits(adam_a.m, adam_b.m));
  CHECK(same_bits(adam_a.v, adam_b.v));
  // The steps actually moved the weights away from what was saved.
  ParamStore saved;
  make_store(saved, 63);
  load_checkpoint(path, saved, nullptr);
  CHECK_FALSE(same_bits(saved.values, a.values));
}
