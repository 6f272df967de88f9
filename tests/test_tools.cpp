// The tools as a user runs them, on tiny generated data: training lowers the loss, an
// interrupted run resumes to bit-identical weights, evaluation prints its figures, and bad input
// gives one clear line and a non-zero exit.
#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "data/image_io.h"
#include "data/video.h"
#include "engine/checkpoint.h"
#include "models/hdr_autoencoder.h"

namespace fs = std::filesystem;
using namespace steady;

namespace {

struct Run {
  int code;
  std::string output;  // stdout and stderr together
};

Run run(const std::string& args) {
  std::string cmd = "cd " STEADY_BUILD_DIR " && " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p);
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

// One folder per test binary run, holding a tiny procedural data set made once.
const fs::path& workdir() {
  static fs::path dir = [] {
    fs::path d = fs::temp_directory_path() / ("steady_tools_" + std::to_string(getpid()));
    fs::remove_all(d);
    fs::create_directories(d);
    // The runs below leave about 1 GB of checkpoints: removed when the test program ends.
    static const struct RemoveAtExit {
      fs::path dir;
      ~RemoveAtExit() {
        std::error_code ec;
        fs::remove_all(dir, ec);
      }
    } cleanup{d};
    Run r = run("./gen_procedural " + (d / "data").string() +
                " --train 16 --test-seqs 1 --frames 12 --size 32 --seed 3 --quiet");
    INFO(r.output);
    REQUIRE(r.code == 0);
    return d;
  }();
  return dir;
}

std::vector<double> csv_losses(const fs::path& log) {
  std::ifstream in(log);
  std::string line;
  std::getline(in, line);  // header
  std::vector<double> losses;
  while (std::getline(in, line)) {
    std::stringstream ss(line);
    std::string cell;
    std::getline(ss, cell, ',');
    std::getline(ss, cell, ',');
    std::getline(ss, cell, ',');
    losses.push_back(std::stod(cell));
  }
  return losses;
}

std::vector<double> weights(const fs::path& ckpt) {
  HdrAutoencoder m;
  Rng rng(0);
  m.finalize(Device::CPU, rng);
  load_checkpoint(ckpt.string(), m.params(), nullptr);
  return m.params().values.to_host();
}

// True when the checkpoint loads (every value finite, every check passed).
bool load_ok(const fs::path& ckpt) {
  try {
    weights(ckpt);
    return true;
  } catch (const Error&) {
    return false;
  }
}

const std::string kTrain = "./train_hdr --device cpu --size 32 --batch 4 --seed 5 --log-every 1 ";

}  // namespace

TEST_CASE("tools: train_hdr lowers the loss on a tiny run") {
  fs::path out = workdir() / "fall";
  Run r = run(kTrain + (workdir() / "data/train").string() + " --epochs 6 --lr 2e-3 --out " +
              out.string());
  INFO(r.output);
  REQUIRE(r.code == 0);
  std::vector<double> l = csv_losses(out / "log.csv");
  REQUIRE(l.size() == 24);
  double first = (l[0] + l[1] + l[2] + l[3]) / 4, last = (l[20] + l[21] + l[22] + l[23]) / 4;
  INFO("mean loss of the first 4 steps ", first, ", of the last 4 ", last);
  CHECK(last < 0.7 * first);
  CHECK(fs::exists(out / "epoch_006.safetensors"));
}

TEST_CASE("tools: --resume after an interruption gives the same final weights") {
  std::string data = (workdir() / "data/train").string();
  std::string common = kTrain + data + " --epochs 2 --reg trans-inv --alpha 0.5 --out ";
  fs::path whole = workdir() / "whole", parts = workdir() / "parts";
  Run a = run(common + whole.string());
  INFO(a.output);
  REQUIRE(a.code == 0);
  Run b = run(common + parts.string() + " --stop-after 3");  // mid-epoch
  INFO(b.output);
  REQUIRE(b.code == 0);
  // Rows logged after the checkpoint (a run killed between saves) must not repeat on resume.
  { std::ofstream(parts / "log.csv", std::ios::app) << "4,0,9,9,0,1\n5,1,9,9,0,1\n"; }
  // A resume that would change the run is refused, naming what differs.
  Run changed = run(common + parts.string() + " --resume --lr 0.5 --seed 9");
  CHECK(changed.code == 1);
  CHECK(changed.output.find("differs from the saved run in lr 0.5") != std::string::npos);
  CHECK(changed.output.find("seed 9 (saved 5)") != std::string::npos);
  Run c = run(common + parts.string() + " --resume");
  INFO(c.output);
  REQUIRE(c.code == 0);
  CHECK(weights(whole / "last.safetensors") == weights(parts / "last.safetensors"));
  CHECK(csv_losses(parts / "log.csv") == csv_losses(whole / "log.csv"));
}

TEST_CASE("tools: a step's batch is the same bytes for any number of loader workers") {
  const std::string data = (workdir() / "data/train").string();
  const std::string common = "./train_hdr " + data + " --device cpu --size 32 --batch 4 --seed 7 "
                             "--epochs 2 --reg stability-noise --alpha 0.5 --out ";
  fs::path one = workdir() / "workers1", four = workdir() / "workers4";
  Run a = run(common + one.string() + " --workers 1");
  INFO(a.output);
  REQUIRE(a.code == 0);
  Run b = run(common + four.string() + " --workers 4 --cache-mb 0");  // and decoded every time
  INFO(b.output);
  REQUIRE(b.code == 0);
  CHECK(weights(one / "last.safetensors") == weights(four / "last.safetensors"));
}

// The column host_syncs of log.csv: the host synchronizations made by the steps since the
// previous row (tools/lib/trainer.cpp counts them with engine/backend.h's counter).
std::vector<long> csv_host_syncs(const fs::path& log) {
  std::ifstream in(log);
  std::string line;
  std::getline(in, line);
  REQUIRE(line == "step,epoch,loss,rec,reg,images_per_s,host_syncs");
  std::vector<long> syncs;
  while (std::getline(in, line)) syncs.push_back(std::stol(line.substr(line.rfind(',') + 1)));
  return syncs;
}

TEST_CASE("tools: the training step between log points never synchronizes with the host") {
  const std::string data = (workdir() / "data/train").string();
  for (std::string reg : {"none", "augment", "stability-noise", "stability", "trans-inv", "jacobian"}) {
    CAPTURE(reg);
    fs::path out = workdir() / ("syncs_" + reg);
    Run r = run("./train_hdr " + data + " --device cpu --size 32 --batch 4 --epochs 2 "
                "--log-every 3 --reg " + reg + " --out " + out.string());
    INFO(r.output);
    REQUIRE(r.code == 0);
    const std::vector<long> syncs = csv_host_syncs(out / "log.csv");
    REQUIRE(syncs.size() == 4);  // steps 3, 4 (epoch end), 6, 8
    for (long s : syncs) CHECK(s == 0);
  }
}

TEST_CASE("tools: --bn frozen fine-tunes with the running statistics and leaves them as they were") {
  const std::string data = (workdir() / "data/train").string();
  fs::path base = workdir() / "bn_base", tuned = workdir() / "bn_frozen";
  REQUIRE(run(kTrain + data + " --epochs 1 --out " + base.string()).code == 0);
  Run r = run(kTrain + data + " --epochs 1 --reg trans-inv --bn frozen --init " +
              (base / "last.safetensors").string() + " --out " + tuned.string());
  INFO(r.output);
  REQUIRE(r.code == 0);
  auto buffers = [](const fs::path& ckpt) {
    HdrAutoencoder m;
    Rng rng(0);
    m.finalize(Device::CPU, rng);
    load_checkpoint(ckpt.string(), m.params(), nullptr);
    return m.params().buffer_values.to_host();
  };
  CHECK(buffers(base / "last.safetensors") == buffers(tuned / "last.safetensors"));
  CHECK(weights(base / "last.safetensors") != weights(tuned / "last.safetensors"));
  Run bad = run(kTrain + data + " --epochs 1 --bn eval --out " + (workdir() / "bn_bad").string());
  CHECK(bad.code == 1);
  CHECK(bad.output.find("--bn must be batch or frozen") != std::string::npos);
}

TEST_CASE("tools: --summary prints the layer table and the parameter count") {
  Run r = run("./train_hdr --summary");
  REQUIRE(r.code == 0);
  HdrAutoencoder m;
  CHECK(r.output.find("parameters: " + std::to_string(m.parameter_count())) != std::string::npos);
}

TEST_CASE("tools: train_hdr DATA takes gen_procedural's folder, eval_video scores every row") {
  fs::path out = workdir() / "eval";
  // The promised command: the data folder itself, whose images are in train/.
  Run t = run(kTrain + (workdir() / "data").string() + " --epochs 1 --out " + out.string());
  INFO(t.output);
  REQUIRE(t.code == 0);
  CHECK(t.output.find("training on") != std::string::npos);
  Run r = run("./eval_video " + (workdir() / "data/test/seq_000").string() + " --device cpu --json --model " +
              (out / "last.safetensors").string());
  INFO(r.output);
  REQUIRE(r.code == 0);
  const nlohmann::json j = nlohmann::json::parse(r.output);
  const nlohmann::json& rows = j["sequences"][0]["rows"];
  REQUIRE(rows.size() == 3);
  CHECK(rows[0]["name"] == "input");
  CHECK(rows[1]["name"] == "m1");
  CHECK(rows[2]["name"] == "reference");
  for (const char* key : {"psnr", "psnr_display", "s", "s_sat", "s_gt", "s_all", "hf", "flicker", "warp", "equiv"}) {
    CAPTURE(key);
    CHECK(rows[1]["values"][key].is_number());  // motion is known: a warping error too
  }
  CHECK(rows[2]["values"]["s"].get<double>() == doctest::Approx(1.0));
}

TEST_CASE("tools: eval_video measures a sequence on its own: a multi-part EXR, a video") {
  fs::path d = workdir() / "alone";
  Run g = run("./gen_procedural " + d.string() + " --train 0 --test-seqs 1 --frames 10 --size 32 --multipart --quiet");
  INFO(g.output);
  REQUIRE(g.code == 0);
  Run r = run("./eval_video " + (d / "test/seq_000.exr").string() + " --json");
  INFO(r.output);
  REQUIRE(r.code == 0);
  nlohmann::json row = nlohmann::json::parse(r.output)["sequences"][0]["rows"][0];
  CHECK(row["name"] == "sequence");
  CHECK(row["values"]["hf"].get<double>() > 0);
  CHECK(row["values"]["flicker"].get<double>() > 0);
  CHECK(row["values"]["warp"].is_number());
  CHECK(row["values"]["s"].is_null());  // no reference
  // Against itself as the reference: S = 1 and PSNR infinite (null in JSON).
  Run self = run("./eval_video " + (d / "test/seq_000.exr").string() + " --json --ref " +
                 (d / "test/seq_000.exr").string());
  INFO(self.output);
  REQUIRE(self.code == 0);
  row = nlohmann::json::parse(self.output)["sequences"][0]["rows"][0];
  CHECK(row["values"]["s"].get<double>() == doctest::Approx(1.0));
  if (!ffmpeg_available()) return;
  const fs::path clip = d / "clip.mp4";
  std::vector<Tensor> frames;
  for (int t = 0; t < 8; ++t) frames.push_back(Tensor::full({3, 16, 16}, 0.1 * t));
  write_video(clip.string(), frames, 25);
  Run v = run("./eval_video " + clip.string() + " --json");
  INFO(v.output);
  REQUIRE(v.code == 0);
  row = nlohmann::json::parse(v.output)["sequences"][0]["rows"][0];
  CHECK(row["values"]["flicker"].get<double>() == doctest::Approx(0.1).epsilon(0.05));
}

TEST_CASE("tools: train_color trains on photos and eval_video evaluates its colors") {
  Run s = run("./train_color --summary");
  REQUIRE(s.code == 0);
  CHECK(s.output.find("parameters: 1568690") != std::string::npos);
  fs::path photos = workdir() / "photos";
  Run g = run("./gen_procedural " + photos.string() + " --train 8 --test-seqs 0 --size 32 --previews --quiet");
  REQUIRE(g.code == 0);
  fs::path out = workdir() / "color";
  Run t = run("./train_color " + (photos / "previews").string() +
              " --device cpu --size 32 --batch 4 --epochs 2 --reg trans-inv --out " + out.string());
  INFO(t.output);
  REQUIRE(t.code == 0);
  Run e = run("./eval_video " + (workdir() / "data/test/seq_000").string() +
              " --device cpu --json --model " + (out / "last.safetensors").string());
  INFO(e.output);
  REQUIRE(e.code == 0);
  CHECK(e.output.find("input (grey, a = b = 0)") != std::string::npos);
  // infer colorizes a folder of photos into a folder of PNGs, one per input frame.
  Run inf = run("./infer " + (photos / "previews").string() + " " + (workdir() / "colorized").string() +
                " --device cpu --model " + (out / "last.safetensors").string());
  INFO(inf.output);
  REQUIRE(inf.code == 0);
  CHECK(fs::exists(workdir() / "colorized/frame_0007.png"));
  // A color checkpoint where an HDR one is expected is refused in one line.
  Run wrong = run("./train_hdr " + (workdir() / "data/train").string() + " --device cpu --size 32 --epochs 1 --init " +
                  (out / "last.safetensors").string() + " --out " + (workdir() / "wrong").string());
  CHECK(wrong.code == 1);
  CHECK(wrong.output.find("is a color model, not hdr") != std::string::npos);
}

TEST_CASE("tools: infer streams to a folder, a video of any container, an image; never onto IN") {
  fs::path run_dir = workdir() / "infer_hdr";
  Run t = run(kTrain + (workdir() / "data").string() + " --epochs 1 --out " + run_dir.string());
  REQUIRE(t.code == 0);
  const std::string model = " --device cpu --model " + (run_dir / "last.safetensors").string();
  // HDR frames are not the LDR input the HDR model takes: one clear line.
  Run radiance = run("./infer " + (workdir() / "data/test/seq_000").string() + " " +
                     (workdir() / "hdr_bad").string() + model);
  CHECK(radiance.code == 1);
  CHECK(radiance.output.find("LDR input in [0, 1]") != std::string::npos);
  const fs::path ldr = workdir() / "ldr";
  REQUIRE(run("./gen_procedural " + ldr.string() + " --train 12 --test-seqs 0 --size 32 --previews --quiet").code == 0);
  const fs::path seq = ldr / "previews";
  Run folder = run("./infer " + seq.string() + " " + (workdir() / "hdr_out").string() + model);
  INFO(folder.output);
  REQUIRE(folder.code == 0);
  CHECK(fs::exists(workdir() / "hdr_out/frame_0011.exr"));
  // One frame to a PNG preview: slightly negative predictions are black, not NaN.
  Run one = run("./infer " + (seq / "train_00000.png").string() + " " + (workdir() / "one.png").string() + model);
  INFO(one.output);
  CHECK(one.code == 0);
  CHECK(fs::exists(workdir() / "one.png"));
  for (const char* name : {"one.jpg", "one.hdr"}) {  // no PNG bytes under another format's name
    Run wrong = run("./infer " + (seq / "train_00000.png").string() + " " + (workdir() / name).string() + model);
    CHECK(wrong.code == 1);
    CHECK(wrong.output.find("written as .exr (linear) or .png") != std::string::npos);
    CHECK_FALSE(fs::exists(workdir() / name));
  }
  Run same = run("./infer " + (workdir() / "one.png").string() + " " + (workdir() / "one.png").string() + model);
  CHECK(same.code == 1);
  CHECK(same.output.find("never overwrites its input") != std::string::npos);
  if (!ffmpeg_available()) return;
  Run mkv = run("./infer " + seq.string() + " " + (workdir() / "out.mkv").string() + model);
  INFO(mkv.output);
  REQUIRE(mkv.code == 0);
  CHECK(fs::is_regular_file(workdir() / "out.mkv"));
  CHECK(probe_video((workdir() / "out.mkv").string()).width == 96);  // the previews are 96x32
}

TEST_CASE("tools: a diverging run keeps its last good checkpoint; SIGTERM saves like Ctrl-C") {
  const std::string data = (workdir() / "data").string();
  fs::path out = workdir() / "diverge";
  // One good epoch, then a second run at an absurd learning rate into the same folder.
  REQUIRE(run(kTrain + data + " --epochs 1 --out " + out.string()).code == 0);
  const std::vector<double> good = weights(out / "last.safetensors");
  Run d = run(kTrain + data + " --epochs 3 --lr 10 --init " + (out / "last.safetensors").string() +
              " --out " + (workdir() / "diverge2").string());
  INFO(d.output);
  if (d.code != 0) {  // it diverged: nothing non-finite was written
    CHECK(d.output.find("error:") != std::string::npos);
    for (const char* f : {"last.safetensors", "epoch_001.safetensors", "epoch_002.safetensors"})
      if (fs::exists(workdir() / "diverge2" / f)) CHECK(load_ok(workdir() / "diverge2" / f));
  }
  CHECK(weights(out / "last.safetensors") == good);
  // SIGTERM mid-run: saved, exit 143, and --resume continues.
  fs::path term = workdir() / "term";
  Run t = run("timeout --preserve-status -s TERM 3 " + kTrain + data + " --epochs 200 --out " + term.string());
  INFO(t.output);
  CHECK(t.code == 143);
  CHECK(t.output.find("interrupted at step") != std::string::npos);
  CHECK(fs::exists(term / "last.safetensors"));
}

TEST_CASE("tools: the same signal twice at once is one request (GNU timeout sends two)") {
  const std::string data = (workdir() / "data").string();
  fs::path out = workdir() / "double_term";
  fs::path log = workdir() / "double_term.log";
  // Start a long run, wait for its first step, then TERM it twice, 0.2 s apart (handled one
  // after the other, as a busy process takes timeout's two).
  Run t = run("(" + kTrain + data + " --epochs 200 --out " + out.string() + " > " + log.string() +
              " 2>&1 & pid=$!; for i in $(seq 600); do grep -q 'step' " + log.string() +
              " && break; sleep 0.1; done; kill -TERM $pid; sleep 0.2; kill -TERM $pid; wait $pid; "
              "echo exit=$?; cat " + log.string() + ")");
  INFO(t.output);
  CHECK(t.output.find("exit=143") != std::string::npos);
  CHECK(t.output.find("interrupted at step") != std::string::npos);
  CHECK(fs::exists(out / "last.safetensors"));
}

TEST_CASE("tools: one training per run folder; no silent overwrite; stale temp files go") {
  const std::string data = (workdir() / "data").string();
  fs::path out = workdir() / "once";
  REQUIRE(run(kTrain + data + " --epochs 1 --out " + out.string()).code == 0);
  { std::ofstream(out / "last.safetensors.tmp.999999") << "half a checkpoint"; }
  Run again = run(kTrain + data + " --epochs 1 --out " + out.string());
  CHECK(again.code == 1);
  CHECK(again.output.find("already holds a run") != std::string::npos);
  Run over = run(kTrain + data + " --epochs 1 --overwrite --out " + out.string());
  INFO(over.output);
  CHECK(over.code == 0);
  CHECK_FALSE(fs::exists(out / "last.safetensors.tmp.999999"));
  CHECK(csv_losses(out / "log.csv").size() == 4);  // the new run's steps only
  // A second training into a folder in use is refused while the first runs.
  fs::path busy = workdir() / "busy";
  Run both = run("(" + kTrain + data + " --epochs 100 --out " + busy.string() + " > /dev/null 2>&1 &"
                 " pid=$!; sleep 1.5; " + kTrain + data + " --epochs 1 --resume --out " + busy.string() +
                 "; rc=$?; kill -INT $pid; wait $pid; exit $rc)");
  INFO(both.output);
  CHECK(both.code == 1);
  CHECK(both.output.find("in use by another training") != std::string::npos);
}

// A folder of 2 procedural training images with their PNG previews (previews/train_0000N.png).
fs::path two_previews(const std::string& name) {
  const fs::path d = workdir() / name;
  REQUIRE(run("./gen_procedural " + d.string() + " --train 2 --test-seqs 0 --size 32 --previews --quiet").code == 0);
  return d;
}

TEST_CASE("tools: check_data goes by content; a folder named like a pattern is a folder") {
  const fs::path d = two_previews("content");
  fs::create_directories(d / "seq_%d");
  fs::copy_file(d / "previews/train_00000.png", d / "png_named.exr");
  fs::copy_file(d / "previews/train_00000.png", d / "seq_%d/a.png");
  fs::copy_file(d / "previews/train_00001.png", d / "seq_%d/b.png");
  Run c = run("./check_data " + (d / "png_named.exr").string());
  INFO(c.output);
  CHECK(c.code == 0);
  CHECK(c.output.find("FAIL") == std::string::npos);
  CHECK(c.output.find("exr zip") == std::string::npos);  // not an EXR, whatever its name
  Run e = run("./eval_video '" + (d / "seq_%d").string() + "' --json");
  INFO(e.output);
  CHECK(e.code == 0);
  CHECK(e.output.find("\"frames\": 2") != std::string::npos);
}

TEST_CASE("tools: check_data reports an unreadable subfolder and scans the rest") {
  const fs::path d = two_previews("locked");
  fs::create_directories(d / "secret");
  fs::copy_file(d / "previews/train_00000.png", d / "secret/hidden.png");
  fs::permissions(d / "secret", fs::perms::none);
  fs::permissions(workdir(), fs::perms::all);  // the unprivileged user below can walk to d
  // Root reads any folder: run check_data as nobody there (setpriv, util-linux).
  std::string as_user;
  if (geteuid() == 0) {
    if (run("command -v setpriv").code != 0) {
      fs::permissions(d / "secret", fs::perms::owner_all);
      MESSAGE("root without setpriv: the unreadable folder cannot be made here, case skipped");
      return;
    }
    as_user = "setpriv --reuid=65534 --regid=65534 --clear-groups ";
  }
  Run c = run(as_user + "./check_data " + d.string());
  fs::permissions(d / "secret", fs::perms::owner_all);
  INFO(c.output);
  CHECK(c.code == 1);
  CHECK(c.output.find("secret: cannot list the folder") != std::string::npos);
  CHECK(c.output.find("4 images, 0 videos: 4 opened, 0 failed; 1 folders could not be listed") !=
        std::string::npos);  // the two EXRs and two previews beside it were all checked
}

TEST_CASE("tools: bad input gives one clear line and a non-zero exit") {
  fs::path bad = workdir() / "bad";
  fs::create_directories(bad);
  { std::ofstream(bad / "broken.exr") << "not an exr"; }
  { std::ofstream(bad / "model.safetensors") << "garbage"; }
  struct Case {
    std::string cmd, expect;
  };
  for (const Case& c : std::vector<Case>{
           {"./train_hdr /nonexistent/folder --device cpu", "/nonexistent/folder"},
           {"./train_hdr " + bad.string() + " --device cpu --batch 1 --out " + (bad / "run").string(), "broken.exr"},
           {"./train_hdr " + bad.string() + " --reg wobble", "--reg"},
           {"./eval_video " + bad.string() + " --model " + (bad / "model.safetensors").string(),
            "model.safetensors"},
           // Integers that would wrap when narrowed, and values that would switch things off.
           {"./train_hdr " + bad.string() + " --batch 4294967297", "--batch must be in [1, 65536]"},
           {"./train_hdr " + bad.string() + " --size 4294967328", "--size must be in [16, 8192]"},
           {"./train_hdr " + bad.string() + " --epochs 4294967297", "--epochs must be in"},
           {"./train_hdr " + bad.string() + " --lr -1", "--lr must be in (0, 10]"},
           {"./train_hdr " + bad.string() + " --lr nan", "--lr must be in (0, 10]"},
           {"./train_hdr " + bad.string() + " --transf-scale nan", "--transf-scale must be in (0, 10]"},
           {"./train_hdr " + bad.string() + " --transf-scale 1e9", "--transf-scale must be in (0, 10]"},
           {"./train_hdr " + bad.string() + " --transf-scale -5", "--transf-scale must be in (0, 10]"},
           {"./bench_step --batch 0", "--batch must be in [1, 4096]"},
           {"./train_hdr " + bad.string() + " --size 24", "--size 24: the hdr network needs a multiple of 16"},
           // Two sequences of one name would write to the same report folder.
           {"./eval_video " + (workdir() / "data/test/seq_000").string() + " " +
                (workdir() / "data/test/seq_000/").string() + " --report " + (bad / "r").string(),
            "are both named 'seq_000'"},
           {"./eval_video " + bad.string() + " --batch 4294967297", "--batch must be in [1, 4096]"},
       }) {
    Run r = run(c.cmd);
    INFO(c.cmd, "\n", r.output);
    CHECK(r.code != 0);
    CHECK(r.code != 134);  // not an abort
    CHECK(r.output.find(c.expect) != std::string::npos);
    CHECK(r.output.find("error:") != std::string::npos);
  }
  Run gpu = run("./train_hdr " + bad.string() + " --device cuda");
  if (!cuda_available()) {
    CHECK(gpu.code == 1);
    CHECK(gpu.output.find("CUDA") != std::string::npos);
  }
}

TEST_CASE("tools: eval_video on every input kind x task, with and without --json") {
  // Two tiny models, one per task.
  const fs::path d = workdir() / "kinds";
  Run th = run(kTrain + (workdir() / "data").string() + " --epochs 1 --out " + (d / "hdr").string());
  INFO(th.output);
  REQUIRE(th.code == 0);
  Run g = run("./gen_procedural " + (d / "photos").string() + " --train 4 --test-seqs 0 --size 32 --previews --quiet");
  REQUIRE(g.code == 0);
  Run tc = run("./train_color " + (d / "photos/previews").string() +
               " --device cpu --size 32 --batch 4 --epochs 1 --out " + (d / "color").string());
  INFO(tc.output);
  REQUIRE(tc.code == 0);
  Run gm = run("./gen_procedural " + (d / "mp").string() + " --train 0 --test-seqs 1 --frames 6 --size 32 --multipart --quiet");
  REQUIRE(gm.code == 0);
  // The same frames as PNGs (a folder and a pattern) and as a video.
  fs::create_directories(d / "png");
  std::vector<Tensor> frames;
  for (int t = 0; t < 6; ++t) {
    std::vector<float> v(3 * 32 * 32);
    for (size_t k = 0; k < v.size(); ++k) v[k] = static_cast<float>((k * 7 + t * 13) % 255) / 255.f;
    frames.push_back(Tensor::from_vector(v, {3, 32, 32}));
    char name[32];
    std::snprintf(name, sizeof name, "frame_%04d.png", t);
    write_png((d / "png" / name).string(), frames.back());
  }
  std::vector<std::pair<std::string, bool>> inputs = {  // spec, HDR frames
      {(workdir() / "data/test/seq_000").string(), true},
      {(workdir() / "data/test/seq_000/frame_%04d.exr").string(), true},
      {(d / "mp/test/seq_000.exr").string(), true},
      {(d / "png").string(), false},
      {(d / "png/frame_%04d.png").string(), false}};
  if (ffmpeg_available()) {
    write_video((d / "clip.mp4").string(), frames, 25);
    inputs.push_back({(d / "clip.mp4").string(), false});
  }
  const std::vector<std::string> models = {"", " --model " + (d / "hdr/last.safetensors").string(),
                                           " --model " + (d / "color/last.safetensors").string()};
  for (const auto& [spec, hdr_frames] : inputs)
    for (size_t m = 0; m < models.size(); ++m) {
      const std::string cmd = "./eval_video " + spec + " --device cpu" + models[m];
      CAPTURE(cmd);
      Run table = run(cmd);
      INFO(table.output);
      CHECK(table.code == 0);
      Run js = run(cmd + " --json");
      INFO(js.output);
      REQUIRE(js.code == 0);
      const nlohmann::json s = nlohmann::json::parse(js.output)["sequences"][0];
      CHECK(s["rows"].size() >= 1);
      for (const auto& row : s["rows"])
        for (const auto& [key, v] : row["values"].items()) CHECK((v.is_number() || v.is_null()));
      const bool camera = m == 1 && hdr_frames;  // an HDR model on HDR frames draws a camera
      CHECK(s.contains("camera") == camera);
      if (camera) {
        CHECK(s["camera"]["exposure"].get<double>() > 0);
        CHECK(s["camera"]["clip_percentile"].get<double>() >= 90);
        CHECK(s["saturated_share"].get<double>() > 0);
        CHECK(table.output.find("clip percentile") != std::string::npos);
      }
    }
}

TEST_CASE("tools: --val logs val_rec, keeps the best checkpoint, and leaves the training as it was") {
  const fs::path d = workdir() / "val";
  Run g = run("./gen_procedural " + (d / "held").string() + " --train 6 --test-seqs 0 --size 32 --seed 8 --quiet");
  REQUIRE(g.code == 0);
  const std::string base = kTrain + (workdir() / "data/train").string() + " --epochs 2 --lr 1e-3";
  Run plain = run(base + " --out " + (d / "plain").string());
  REQUIRE(plain.code == 0);
  Run val = run(base + " --val " + (d / "held/train").string() + " --out " + (d / "with").string());
  INFO(val.output);
  REQUIRE(val.code == 0);
  CHECK(val.output.find("validation at step 0: val_rec") != std::string::npos);
  // The validation never touches the training's draws or weights.
  CHECK(weights(d / "plain/last.safetensors") == weights(d / "with/last.safetensors"));
  // log.csv: a val_rec column, filled at step 0 and at each epoch's end (4 steps per epoch).
  std::ifstream in(d / "with/log.csv");
  std::string header, line;
  std::getline(in, header);
  CHECK(header.substr(header.rfind(',') + 1) == "val_rec");
  std::vector<std::pair<long, double>> vals;
  while (std::getline(in, line)) {
    const std::string last = line.substr(line.rfind(',') + 1);
    if (!last.empty()) vals.push_back({std::stol(line), std::stod(last)});
  }
  REQUIRE(vals.size() == 3);
  CHECK(vals[0].first == 0);
  CHECK(vals[1].first == 4);
  CHECK(vals[2].first == 8);
  for (const auto& v : vals) CHECK((std::isfinite(v.second) && v.second > 0));
  REQUIRE(fs::exists(d / "with/best.safetensors"));
  // The same validation twice gives the same value: the validation set is fixed.
  Run again = run(base + " --epochs 1 --stop-after 1 --val " + (d / "held/train").string() + " --out " +
                  (d / "again").string());
  REQUIRE(again.code == 0);
  CHECK(again.output.find(val.output.substr(val.output.find("validation at step 0"), 40)) != std::string::npos);
  // A bad folder is one clear line.
  Run bad = run(base + " --val " + (d / "missing").string() + " --out " + (d / "bad").string());
  CHECK(bad.code == 1);
  CHECK(bad.output.find("missing") != std::string::npos);
}

TEST_CASE("tools: --patience stops at the first validation that makes it run out, and resume knows") {
  const fs::path d = workdir() / "patience";
  Run g = run("./gen_procedural " + (d / "held").string() + " --train 4 --test-seqs 0 --size 32 --seed 9 --quiet");
  REQUIRE(g.code == 0);
  // 16 images and a high learning rate: the validation loss wanders, so runs of no improvement occur.
  const std::string cmd = kTrain + (workdir() / "data/train").string() + " --epochs 25 --lr 5e-3 --patience 2 --val " +
                          (d / "held/train").string() + " --out " + (d / "run").string();
  Run r = run(cmd);
  INFO(r.output);
  REQUIRE(r.code == 0);
  std::ifstream in(d / "run/log.csv");
  std::string line;
  std::getline(in, line);
  std::vector<std::pair<long, double>> vals;
  while (std::getline(in, line)) {
    const std::string last = line.substr(line.rfind(',') + 1);
    if (!last.empty()) vals.push_back({std::stol(line), std::stod(last)});
  }
  // Replay the rule on the log: the run ends at the first validation with 2 since the best.
  double best = INFINITY;
  int since = 0;
  size_t end = vals.size() - 1;
  for (size_t i = 0; i < vals.size(); ++i) {
    if (vals[i].second < best) best = vals[i].second, since = 0;
    else ++since;
    if (since >= 2) {
      end = i;
      break;
    }
  }
  CHECK(end == vals.size() - 1);
  const bool stopped = vals.back().first < 100;  // 25 epochs of 4 steps
  CHECK(stopped == (r.output.find("has not improved for 2 validations") != std::string::npos));
  if (stopped) {
    Run again = run(cmd + " --resume");
    INFO(again.output);
    CHECK(again.code == 0);
    CHECK(again.output.find("nothing to resume") != std::string::npos);
  }
  Run bad = run(kTrain + (workdir() / "data/train").string() + " --patience 2 --out " + (d / "bad").string());
  CHECK(bad.code == 1);
  CHECK(bad.output.find("--patience needs --val") != std::string::npos);
}
