#include "tools/lib/trainer.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <ctime>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

#include <nlohmann/json.hpp>

#include "data/image_io.h"
#include "engine/checkpoint.h"
#include "losses/regularizers.h"
#include "tools/lib/batch_loader.h"
#include "tools/lib/collective.h"
#ifdef STEADY_HAVE_CUDA
#include "engine/cuda/graph.h"
#endif

namespace steady {

namespace fs = std::filesystem;

namespace {

// SIGINT, SIGTERM (schedulers, timeout, container stops) and SIGHUP ask the loop to save and
// stop; a second signal ends the program at once. The same signal again within a second is the
// same request, not a second one: GNU timeout sends its signal to the process and then to the
// whole process group, and a busy process can take the two one after the other.
std::atomic<bool> g_interrupted{false};
std::atomic<int> g_signal{0};
std::atomic<int64_t> g_first_signal_ns{0};
int64_t monotonic_ns() {  // clock_gettime is async-signal-safe
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}
void on_stop_signal(int sig) {
  const int64_t now = monotonic_ns();
  if (!g_interrupted.exchange(true)) {
    g_signal = sig;
    g_first_signal_ns = now;
    return;
  }
  if (sig == g_signal && now - g_first_signal_ns < 1000000000) return;  // the same request
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

// Every random draw of step s's regularizer (transforms, noise) comes from its own counter
// range, so a resumed run replays them exactly without saving generator positions. The
// samples' own draws are the batch loader's (tools/lib/batch_loader.h).
Rng step_rng(uint64_t seed, int64_t step) { return Rng(seed, static_cast<uint64_t>(step + 1) << 32); }

std::string format_duration(double seconds) {
  int s = static_cast<int>(seconds + 0.5);
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60);
  else
    std::snprintf(buf, sizeof buf, "%d:%02d", s / 60, s % 60);
  return buf;
}

// Progress: a bar redrawn in place on a terminal, a plain line now and then otherwise.
class Progress {
 public:
  Progress() : tty_(isatty(fileno(stderr))) {}
  void update(int epoch, int epochs, int64_t step_in_epoch, int64_t steps_per_epoch, double loss,
              double rec, double reg, double images_per_s, double eta_s, bool force) {
    auto now = std::chrono::steady_clock::now();
    double since = std::chrono::duration<double>(now - last_).count();
    if (!force && since < (tty_ ? 0.2 : 5.0)) return;
    last_ = now;
    int width = 24, filled = static_cast<int>(width * step_in_epoch / std::max<int64_t>(1, steps_per_epoch));
    std::string bar(filled, '#');
    bar += std::string(width - filled, '.');
    std::fprintf(stderr, "%sepoch %d/%d [%s] step %lld/%lld  loss %.5f (rec %.5f reg %.5f)  %.1f img/s  ETA %s%s",
                 tty_ ? "\r" : "", epoch, epochs, bar.c_str(), (long long)step_in_epoch,
                 (long long)steps_per_epoch, loss, rec, reg, images_per_s,
                 format_duration(eta_s).c_str(), tty_ ? "\033[K" : "\n");
    std::fflush(stderr);
  }
  void finish_line() {
    if (tty_) std::fprintf(stderr, "\n");
  }
  bool on_terminal() const { return tty_; }

 private:
  bool tty_;
  std::chrono::steady_clock::time_point last_{};
};

// The step's losses summed on the device between log points: no host synchronization until
// someone reads them.
class LossSums {
 public:
  void add(const RegularizedLoss& loss) {
    const Tensor parts[3] = {loss.total.value(), loss.rec, loss.reg};
    for (int k = 0; k < 3; ++k) {
      if (!sums_[k].defined()) {
        sums_[k] = parts[k].clone();
      } else {
        backend_of(sums_[k]).accumulate(sums_[k], parts[k], 1.0);
      }
    }
    ++steps_;
  }
  int64_t steps() const { return steps_; }
  // The means since the last read (total, rec, reg); reading synchronizes and starts over.
  std::array<double, 3> read_means() {
    std::array<double, 3> means{};
    for (int k = 0; k < 3; ++k) means[k] = sums_[k].item() / static_cast<double>(steps_);
    for (Tensor& t : sums_) t = Tensor();
    steps_ = 0;
    return means;
  }

 private:
  Tensor sums_[3];
  int64_t steps_ = 0;
};

// Held-out samples, made once (TrainTask::validation_sample) and cut into batches on the
// device, each with its weight in the pooled loss: the denominator of its reconstruction loss
// (3 sum(mask) for a masked loss, the images otherwise), so that the weighted mean of the batch
// losses is the loss of the whole set as one batch.
struct ValidationBatch {
  Tensor x, y, mask;
  double weight = 0;
};
using ValidationSet = std::vector<ValidationBatch>;

ValidationSet make_validation_set(const TrainTask& task, const std::string& folder, int size, uint64_t seed,
                                  int batch, Device device) {
  const std::vector<std::string> files = task.find_files(folder);
  const int64_t n = static_cast<int64_t>(files.size()), plane = int64_t(size) * size;
  const int64_t cin = task.input_channels(), cout = task.target_channels();
  // The validation draws (the HDR camera) from their own stream, apart from the training's.
  const uint64_t val_seed = seed ^ 0x76616c6964617465ull;
  ValidationSet set;
  for (int64_t b0 = 0; b0 < n; b0 += batch) {
    const int64_t b = std::min<int64_t>(batch, n - b0);
    std::vector<float> x(b * cin * plane), y(b * cout * plane), mask(task.has_mask() ? b * plane : 0);
    for (int64_t j = 0; j < b; ++j) {
      const std::string& file = files[b0 + j];
      try {
        task.validation_sample(read_image(file, 3), size, val_seed, static_cast<uint64_t>(b0 + j),
                               x.data() + j * cin * plane, y.data() + j * cout * plane,
                               task.has_mask() ? mask.data() + j * plane : nullptr);
      } catch (const std::exception& e) {
        fail("--val: ", file, ": ", e.what());
      }
    }
    ValidationBatch vb;
    vb.weight = static_cast<double>(b);
    if (task.has_mask()) {
      double m = 0;
      for (float v : mask) m += v;
      vb.weight = std::max(1.0, 3.0 * m);
      vb.mask = Tensor::from_vector(mask, {b, 1, size, size}, device);
    }
    vb.x = Tensor::from_vector(x, {b, cin, size, size}, device);
    vb.y = Tensor::from_vector(y, {b, cout, size, size}, device);
    set.push_back(std::move(vb));
  }
  return set;
}

// The reconstruction loss over the whole validation set with the network in inference mode
// (running batch-norm statistics).
double validation_loss(const TrainTask& task, Model& model, const ValidationSet& set) {
  NoGradGuard no_grad;
  double sum = 0, weight = 0;
  for (const ValidationBatch& vb : set) {
    sum += vb.weight * task.reconstruction_loss(model.forward(Var(vb.x), false), vb.y, vb.mask).value().item();
    weight += vb.weight;
  }
  return sum / weight;
}

// The least val_rec (the last column) in a run's log.csv (infinity where there is none) and
// the validations after it.
struct ValidationHistory {
  double best = std::numeric_limits<double>::infinity();
  int64_t since_best = 0;
};
ValidationHistory read_validation_history(const std::string& log_path) {
  std::ifstream in(log_path);
  std::string line;
  ValidationHistory h;
  if (!std::getline(in, line) || line.find(",val_rec") == std::string::npos) return h;
  while (std::getline(in, line)) {
    const std::string last = line.substr(line.rfind(',') + 1);
    if (last.empty()) continue;
    const double v = std::strtod(last.c_str(), nullptr);
    if (v < h.best) h.best = v, h.since_best = 0;
    else ++h.since_best;
  }
  return h;
}

RegMode parse_mode(const std::string& name) {
  for (RegMode m : {RegMode::None, RegMode::Augment, RegMode::StabilityNoise, RegMode::Stability,
                    RegMode::TransInv, RegMode::Jacobian})
    if (name == reg_mode_name(m)) return m;
  fail("--reg must be none, augment, stability-noise, stability, trans-inv or jacobian, got '",
       name, "'");
}

}  // namespace

std::vector<std::string> TrainTask::find_files(const std::string& folder) const {
  std::vector<std::string> files;
  for (const std::string& f : list_images(folder, kind_.hdr_images))
    if (kind_.hdr_images || !has_hdr_extension(f)) files.push_back(f);
  STEADY_CHECK(!files.empty(), folder, " holds no ",
               kind_.hdr_images ? "HDR images (.exr or .hdr)" : "photos (.png or .jpg)");
  return files;
}

void TrainTask::open(const std::string& folder) { files_ = find_files(folder); }

Tensor TrainTask::decode(size_t i) const { return read_image(files_[i], 3); }

void TrainTask::load_sample(size_t i, const Tensor& image, int size, Rng& rng, float* x, float* y,
                            float* mask) const {
  sample_of_crop(random_square_crop(image, size, rng, file(i)), rng, x, y, mask);
}

namespace {

// The side x side window at (top, left) of img [C,H,W], flipped left-right when asked, scaled
// to size x size.
Tensor square_crop(const Tensor& img, int size, int64_t side, int64_t top, int64_t left, bool flip) {
  const int64_t C = img.size(0), H = img.size(1), W = img.size(2);
  // Bilinear resampling of the window straight from the image (half-pixel centres, as
  // resize_bilinear), reading only the rows and columns it needs: the window of a large photo
  // is never copied whole.
  struct Tap {
    int64_t lo, hi;
    float w_lo, w_hi;
  };
  auto taps = [&](int64_t offset) {
    std::vector<Tap> t(static_cast<size_t>(size));
    const float scale = static_cast<float>(side) / static_cast<float>(size);
    for (int64_t d = 0; d < size; ++d) {
      const float src = std::max(0.f, scale * (static_cast<float>(d) + 0.5f) - 0.5f);
      const int64_t lo = std::min<int64_t>(static_cast<int64_t>(src), side - 1);
      const int64_t hi = lo < side - 1 ? lo + 1 : lo;
      const float lambda = src - static_cast<float>(lo);
      t[d] = {offset + lo, offset + hi, 1.f - lambda, lambda};
    }
    return t;
  };
  const std::vector<Tap> rows = taps(top), cols = taps(left);
  Tensor crop = Tensor::empty({C, size, size});
  const float* s = img.data<float>();
  float* d = crop.data<float>();
  for (int64_t c = 0; c < C; ++c) {
    const float* plane = s + c * H * W;
    for (int64_t y = 0; y < size; ++y) {
      const float* r0 = plane + rows[y].lo * W;
      const float* r1 = plane + rows[y].hi * W;
      float* out = d + (c * size + y) * size;
      for (int64_t x = 0; x < size; ++x) {
        const Tap& t = cols[flip ? size - 1 - x : x];
        out[x] = rows[y].w_lo * (t.w_lo * r0[t.lo] + t.w_hi * r0[t.hi]) +
                 rows[y].w_hi * (t.w_lo * r1[t.lo] + t.w_hi * r1[t.hi]);
      }
    }
  }
  return crop;
}

}  // namespace

Tensor random_square_crop(const Tensor& img, int size, Rng& rng, const std::string& what) {
  const int64_t H = img.size(1), W = img.size(2), short_side = std::min(H, W);
  STEADY_CHECK(short_side >= 16, what, " is too small (", W, "x", H, ")");
  // No up-scaling unless the image is smaller than the crop.
  const int64_t side = short_side <= size
                           ? short_side
                           : size + static_cast<int64_t>(rng.below(short_side - size + 1));
  const int64_t top = static_cast<int64_t>(rng.below(H - side + 1));
  const int64_t left = static_cast<int64_t>(rng.below(W - side + 1));
  const bool flip = rng.uniform() < 0.5;
  return square_crop(img, size, side, top, left, flip);
}

void TrainTask::validation_sample(const Tensor& image, int size, uint64_t seed, uint64_t index,
                                  float* x, float* y, float* mask) const {
  const int64_t H = image.size(1), W = image.size(2), side = std::min(H, W);
  STEADY_CHECK(side >= 16, "a validation image is too small (", W, "x", H, ")");
  Rng rng(seed, index);
  sample_of_crop(square_crop(image, size, side, (H - side) / 2, (W - side) / 2, false), rng, x, y, mask);
}

namespace {

void add_training_options(Cli& cli) {
  cli.section("regularization (Sec. 3 of the paper)");
  cli.option("reg", "none", "regularizer: none|augment|stability-noise|stability|trans-inv|jacobian");
  cli.option("alpha", "0.95", "weight of the regularizer: L = (1-alpha) L_rec + alpha L_reg");
  cli.option("transf-scale", "1", "scale of the random transforms (Table 1 ranges times this)");
  cli.option("bn", "batch", "batch norm while training: batch (the batch's statistics, the 2B "
             "siamese batch under a regularizer) or frozen (the running statistics, fixed)");
  cli.section("optimization");
  cli.option("epochs", "20", "passes over the training data");
  cli.option("batch", "8", "images per batch, per process under mpirun (each step runs 2x through the network)");
  cli.option("lr", "1e-4", "Adam learning rate");
  cli.option("size", "128", "training crop size in pixels");
  cli.option("seed", "1", "seed of every random draw (init, order, crops, transforms, noise)");
  cli.section("the run");
  cli.option("out", "runs/run", "output folder: checkpoints and log.csv");
  cli.option("init", "", "start from this checkpoint's weights (fine-tuning, Sec. 3.5)");
  cli.flag("resume", "continue the run in --out from its last.safetensors");
  cli.flag("overwrite", "start a new run in an --out that already holds one");
  cli.option("stop-after", "0", "stop after this many steps in total, as if interrupted (0: never)");
  cli.option("log-every", "10", "steps between log rows and progress updates (the losses are "
             "read back from the device only then)");
  cli.option("val", "", "held-out images: their reconstruction loss (fixed centred crops and "
             "camera, no augmentation, batch norm in inference mode) goes to log.csv as val_rec, and "
             "the best checkpoint by it is kept as best.safetensors");
  cli.option("val-every", "0", "steps between validations (0: at the end of every epoch)");
  cli.option("patience", "0", "with --val: stop once this many validations in a row have not "
             "improved on the best (0: run every epoch)");
  cli.flag("summary", "print the model's layer table and parameter count, then exit");
  cli.section("machine");
  cli.option("device", "auto", "auto, cpu or cuda");
  cli.option("workers", "2", "threads preparing batches ahead of the training step");
  cli.option("cache-mb", "2048", "decoded training images kept in memory, in MiB");
}

// One training per run folder (a lock held while the process runs), and never silently over an
// earlier run. Under the lock, temporary files of saves that were killed mid-write are ours to
// remove.
void claim_run_folder(const Cli& cli, const std::string& out) {
  fs::create_directories(out);
  const int lock_fd = ::open((out + "/.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  STEADY_CHECK(lock_fd >= 0, "cannot create ", out, "/.lock: ", std::strerror(errno));
  STEADY_CHECK(::flock(lock_fd, LOCK_EX | LOCK_NB) == 0, out,
               " is in use by another training (its .lock is held)");
  if (!cli.has("resume")) {
    for (const char* f : {"last.safetensors", "log.csv"})
      STEADY_CHECK(cli.has("overwrite") || !fs::exists(fs::path(out) / f), out,
                   " already holds a run (", f, "): --resume continues it, --overwrite starts over");
    fs::remove(fs::path(out) / "log.csv");
  }
  for (const auto& entry : fs::directory_iterator(out))
    if (entry.path().filename().string().find(".safetensors.tmp.") != std::string::npos)
      fs::remove(entry.path());
}

int train(TrainTask& task, const Cli& cli, Collective& comm) {
  std::unique_ptr<Model> model = make_model(task.task());
  if (cli.has("summary")) {
    std::fputs(model->summary().c_str(), stdout);
    return 0;
  }
  // Data parallelism: --batch is per rank; rank 0 alone writes (lock, log, checkpoints, progress).
  const int world = comm.size(), rank = comm.rank();
  const bool writer = rank == 0;
  STEADY_CHECK(cli.positional().size() == 1, "expected one DATA folder (see --help)");
  const std::string out = cli.get("out");
  const uint64_t seed = static_cast<uint64_t>(cli.get_int("seed", 0, INT64_MAX));
  const int epochs = static_cast<int>(cli.get_int("epochs", 1, 1000000));
  const int batch = static_cast<int>(cli.get_int("batch", 1, 65536));
  const int size = static_cast<int>(cli.get_int("size", 16, 8192));
  const int64_t stop_after = cli.get_int("stop-after", 0, kMaxSteps);
  const int64_t log_every = cli.get_int("log-every", 1, kMaxSteps);
  const int workers = static_cast<int>(cli.get_int("workers", 1, 256));
  const size_t cache_bytes = static_cast<size_t>(cli.get_int("cache-mb", 0, 1 << 24)) << 20;
  const std::string val_dir = cli.get("val");
  const int64_t val_every = cli.get_int("val-every", 0, kMaxSteps);
  const int64_t patience = cli.get_int("patience", 0, kMaxSteps);
  STEADY_CHECK(patience == 0 || !val_dir.empty(), "--patience needs --val");
  RegConfig reg;
  reg.mode = parse_mode(cli.get("reg"));
  reg.alpha = cli.get_double("alpha");
  reg.transform_scale = cli.get_double("transf-scale");
  STEADY_CHECK(epochs > 0 && batch > 0 && size >= 16, "--epochs and --batch must be positive ",
               "and --size at least 16");
  STEADY_CHECK(size % model->size_multiple() == 0, "--size ", size, ": the ", task.task(),
               " network needs a multiple of ", model->size_multiple());
  STEADY_CHECK(reg.alpha >= 0 && reg.alpha <= 1, "--alpha must lie in [0, 1]");
  STEADY_CHECK(std::isfinite(reg.transform_scale) && reg.transform_scale > 0 && reg.transform_scale <= 10,
               "--transf-scale must be in (0, 10], got ", cli.get("transf-scale"));
  STEADY_CHECK(std::isfinite(cli.get_double("lr")) && cli.get_double("lr") > 0 && cli.get_double("lr") <= 10,
               "--lr must be in (0, 10], got ", cli.get("lr"));
  Device device = parse_device(cli.get("device"));
  STEADY_CHECK(cli.get("bn") == "batch" || cli.get("bn") == "frozen",
               "--bn must be batch or frozen, got '", cli.get("bn"), "'");
  model->set_batch_norm_mode(cli.get("bn") == "frozen" ? BatchNormMode::Frozen : BatchNormMode::Batch);

  // gen_procedural's output folder holds its training images in train/.
  std::string data = cli.positional()[0];
  while (data.size() > 1 && data.back() == '/') data.pop_back();  // "data/" is "data"
  std::error_code ec;
  if (fs::is_directory(fs::path(data) / "train", ec) && list_images(data).empty()) {
    data = (fs::path(data) / "train").string();
    std::fprintf(stderr, "train_%s: %s holds no images; training on %s\n", task.task().c_str(),
                 cli.positional()[0].c_str(), data.c_str());
  }
  task.open(data);
  const int64_t global_batch = int64_t(batch) * world;
  STEADY_CHECK(task.size() >= static_cast<size_t>(global_batch), data, " holds ", task.size(),
               " training images, fewer than --batch ", batch,
               world > 1 ? " times " + std::to_string(world) + " ranks" : std::string());
  const int64_t steps_per_epoch = static_cast<int64_t>(task.size()) / global_batch;
  const int64_t total_steps = steps_per_epoch * epochs;
  BatchLoader::Options loader_options;
  loader_options.batch = batch;
  loader_options.size = size;
  loader_options.seed = seed;
  loader_options.workers = workers;
  loader_options.cache_bytes = cache_bytes;
  loader_options.total_steps = total_steps;
  loader_options.shard = rank;
  loader_options.shards = world;
  BatchLoader loader(task, loader_options);
  // Every sample once, through the whole pipeline, before step 1: a file that cannot be read
  // is one error now, not an abort in the middle of an epoch. The cache is warm afterwards.
  loader.check_all();

  // The validation set, made once: the same crops and cameras at every validation.
  ValidationSet val;
  if (!val_dir.empty()) val = make_validation_set(task, val_dir, size, seed, batch, device);

  Rng init_rng(seed);
  model->finalize(device, init_rng);
  AdamArgs adam_args;
  adam_args.lr = static_cast<float>(cli.get_double("lr"));
  Adam adam(adam_args);
  adam.attach(model->params());

  nlohmann::json config = {{"task", task.task()}, {"reg", cli.get("reg")},
                           {"alpha", reg.alpha}, {"transf_scale", reg.transform_scale},
                           {"epochs", epochs}, {"batch", batch}, {"lr", adam_args.lr},
                           {"size", size}, {"seed", seed}, {"data", data},
                           {"init", cli.get("init")}, {"bn", cli.get("bn")}};
  if (world > 1) config["world"] = world;  // the schedule depends on it: resume checks it
  if (!val_dir.empty()) config["val"] = val_dir, config["val_every"] = val_every, config["patience"] = patience;
  if (writer) claim_run_folder(cli, out);
  // The other ranks read the run folder (resume) only once rank 0 has claimed it.
  comm.barrier();

  int64_t step = 0;
  const std::string last = out + "/last.safetensors";
  if (cli.has("resume")) {
    STEADY_CHECK(fs::exists(last), "--resume: no checkpoint at ", last);
    const std::string saved_task = checkpoint_task(last, read_checkpoint_meta(last));
    STEADY_CHECK(saved_task == task.task(), last, " is a ", saved_task.empty() ? "?" : saved_task,
                 " model, not ", task.task());
    // Resume continues the saved run exactly: every setting as it was (--init only mattered at
    // the start).
    const nlohmann::json saved = checkpoint_config(last, read_checkpoint_meta(last));
    std::string differ;
    for (const auto& [key, value] : config.items()) {
      if (key == "init") continue;
      const auto it = saved.find(key);
      if (key == "bn" && it == saved.end() && value == "batch") continue;  // runs from before --bn
      if (it == saved.end() || *it != value)
        differ += (differ.empty() ? "" : ", ") + key + " " + brief_json(value, 40) + " (saved " +
                  (it == saved.end() ? std::string("nothing") : brief_json(*it, 40)) + ")";
    }
    STEADY_CHECK(differ.empty(), "--resume: the command differs from the saved run in ", differ,
                 "; resume with the run's own settings");
    const int saved_world = saved.value("world", 1);
    STEADY_CHECK(saved_world == world, "--resume: ", last, " was trained by ", saved_world,
                 " process(es), this is ", world, "; resume with as many (mpirun -np ",
                 saved_world, ")");
    CheckpointMeta meta = load_checkpoint(last, model->params(), &adam);
    step = meta.step;
    STEADY_CHECK(step <= total_steps, "--resume: ", last, " is at step ", step, ", past this run's ",
                 total_steps, " steps");
    if (writer) std::fprintf(stderr, "resuming %s at step %lld\n", last.c_str(), (long long)step);
  } else if (!cli.get("init").empty()) {
    const std::string init_task = checkpoint_task(cli.get("init"), read_checkpoint_meta(cli.get("init")));
    STEADY_CHECK(init_task == task.task(), "--init ", cli.get("init"), " is a ", init_task,
                 " model, not ", task.task());
    load_checkpoint(cli.get("init"), model->params(), nullptr);
  }

  const int64_t first_step = step;
  // A diverged step never replaces a good checkpoint: non-finite weights or statistics stop the
  // run before anything is written.
  auto check_finite = [&] {
    for (const Tensor* t : {&model->params().values, &model->params().buffer_values})
      for (double v : t->to_host())
        STEADY_CHECK(std::isfinite(v), "training diverged by step ", step, ": the ",
                     t == &model->params().values ? "weights" : "batch-norm statistics",
                     " hold ", v, "; nothing was saved (the last checkpoint is kept). Try a lower --lr");
  };
  // with_optimizer false: weights only (best.safetensors, for use rather than for resuming).
  auto save = [&](const std::string& path, bool with_optimizer = true) {
    if (!writer) return;  // every rank holds the same weights; one writes them
    check_finite();
    CheckpointMeta meta;
    meta.step = step;
    meta.rng_seed = seed;
    meta.config = config.dump();
    save_checkpoint(path, model->params(), with_optimizer ? &adam : nullptr, meta);
  };

  // The log holds the steps the checkpoint has: rows past it (a run killed between saves) go.
  // Only rank 0 has a log: the others write to no file.
  if (writer && step > 0 && fs::exists(out + "/log.csv")) {
    std::ifstream in(out + "/log.csv");
    std::string line, kept;
    while (std::getline(in, line)) {
      const bool header = kept.empty();
      if (header || std::strtoll(line.c_str(), nullptr, 10) <= step) kept += line + "\n";
    }
    std::ofstream rewrite(out + "/log.csv.tmp", std::ios::trunc);
    rewrite << kept;
    rewrite.close();
    STEADY_CHECK(rewrite.good(), "cannot write ", out, "/log.csv.tmp: ", std::strerror(errno));
    fs::rename(out + "/log.csv.tmp", out + "/log.csv");
  }
  std::ofstream log;
  if (writer) {
    log.open(out + "/log.csv", std::ios::app);
    STEADY_CHECK(log.good(), "cannot write ", out, "/log.csv: ", std::strerror(errno));
  }
  // Each row: the means over the steps since the previous row, and the host synchronizations
  // those steps made (0 when the step runs without waiting for the device).
  if (step == 0) log << "step,epoch,loss,rec,reg,images_per_s,host_syncs" << (!val.empty() ? ",val_rec" : "") << "\n";

  for (int sig : {SIGINT, SIGTERM, SIGHUP}) std::signal(sig, on_stop_signal);
  if (writer)
    std::fprintf(stderr, "training %s on %s: %zu images, %lld steps per epoch, --reg %s, device %s%s\n",
                 task.task().c_str(), data.c_str(), task.size(), (long long)steps_per_epoch,
                 cli.get("reg").c_str(), device_name(device),
                 world > 1 ? (", " + std::to_string(world) + " ranks x --batch " +
                              std::to_string(batch)).c_str() : "");
  Progress progress;
  LossSums sums;
  // The best validation loss so far and the validations since it: on resume, from the log's
  // kept rows.
  ValidationHistory history;
  if (!val.empty() && step > 0) history = read_validation_history(out + "/log.csv");
  if (patience > 0 && history.since_best >= patience) {
    if (writer)
      std::fprintf(stderr, "%s stopped at step %lld when its validation loss had not improved for %lld "
                   "validations; nothing to resume\n", out.c_str(), (long long)step, (long long)patience);
    return 0;
  }
  auto validate = [&] {
    const double v = validation_loss(task, *model, val);
    const bool better = v < history.best;
    if (better) history.best = v, history.since_best = 0;
    else ++history.since_best;
    if (writer)
      std::fprintf(stderr, "%svalidation at step %lld: val_rec %.5f%s\n", progress.on_terminal() ? "\n" : "",
                   (long long)step, v, better ? " (best so far: best.safetensors)" : "");
    return std::make_pair(v, better);
  };
  if (!val.empty() && step == 0 && writer) {  // the starting point: the curve's first value
    const auto [v, better] = validate();
    log << "0,0,,,,,0," << v << "\n";
    if (better) save(out + "/best.safetensors", false);
  }
  auto interval_start = std::chrono::steady_clock::now();
  int64_t interval_first_step = step;
  int64_t interval_syncs = host_sync_count();
  auto net = [&](const Var& x) { return model->forward(x, true); };
  const Shape x_shape{batch, task.input_channels(), size, size};
  const Shape y_shape{batch, task.target_channels(), size, size};
  const Shape mask_shape{batch, 1, size, size};
  // The step's inputs live in tensors allocated once: each step's batch is copied in and its
  // random draws written into them, so that on CUDA the step, captured into a graph after a
  // warm-up step, replays on fresh data (engine/cuda/graph.h; STEADY_CUDA_GRAPH=0 turns it off).
  Tensor x = Tensor::empty(x_shape, device), y = Tensor::empty(y_shape, device);
  Tensor mask = task.has_mask() ? Tensor::empty(mask_shape, device) : Tensor();
  auto upload = [&](Tensor& dst, const std::vector<float>& src) {
    backend(device).copy(dst.raw(), device, src.data(), Device::CPU,
                         src.size() * sizeof(float));  // asynchronous from pinned staging on CUDA
  };
  StepDraws draws;
  RegularizedLoss loss;
  // Data parallelism: each rank's gradient is of its shard's loss; their mean (one all-reduce
  // of the flat buffer) is the whole batch's gradient when the loss is a mean over samples. The
  // masked reconstruction loss divides by its shard's mask sum; rec_weight rescales it to the
  // global mask sum, so that the ranks' mean is the whole batch's loss there too.
  double rec_weight = 1.0;
  auto train_step = [&] {
    model->params().zero_grad();
    auto rec = [&](const Var& pred) {
      Var l = task.reconstruction_loss(pred, y, mask);
      return rec_weight == 1.0 ? l : scale(l, rec_weight);
    };
    loss = regularized_loss(reg, Var(x), y, mask, net, rec, draws);
    backward(loss.total);
    comm.average(model->params().grads);
    adam.step(model->params());
  };
#ifdef STEADY_HAVE_CUDA
  std::unique_ptr<cuda::StepGraph> graph;
  // Not under data parallelism: the step's loss weight (rec_weight) changes every step, and a
  // replayed graph would keep the captured one.
  if (device == Device::CUDA && world == 1) graph = std::make_unique<cuda::StepGraph>();
#endif
  while (step < total_steps) {
    const int64_t epoch = step / steps_per_epoch, in_epoch = step % steps_per_epoch;
    const HostBatch& host = loader.get(step);
    upload(x, host.x);
    upload(y, host.y);
    if (mask.defined()) upload(mask, host.mask);
    if (world > 1 && mask.defined()) {
      // max(1, 3 sum(mask)), reg_loss's denominator, of this shard and of the global batch.
      double sums[1] = {0.0};
      for (float m : host.mask) sums[0] += m;
      const double local = std::max(1.0, 3.0 * sums[0]);
      comm.allreduce_sum(sums, 1);
      rec_weight = world * local / std::max(1.0, 3.0 * sums[0]);
    }
    Rng rng = step_rng(seed, step);
    // One draw for the global batch; this rank keeps its rows.
    draw_step(reg, {global_batch, x_shape[1], x_shape[2], x_shape[3]}, device, DType::F32, rng,
              draws, int64_t(rank) * batch, batch);
#ifdef STEADY_HAVE_CUDA
    if (graph) {
      graph->run(train_step);
      if (graph->captured()) adam.set_steps(step + 1);  // replays advance it on the device only
    } else {
      train_step();
    }
#else
    train_step();
#endif
    sums.add(loss);
    ++step;

    const bool epoch_done = step % steps_per_epoch == 0;
    // Every rank stops at the same step when any of them was signalled.
    const bool interrupted = comm.any(g_interrupted);
    const bool stopping = interrupted || (stop_after > 0 && step >= stop_after);
    const bool val_point = !val.empty() && (step == total_steps || (val_every > 0 ? step % val_every == 0 : epoch_done));
    const bool log_point = step % log_every == 0 || epoch_done || stopping || step == total_steps || val_point;
    if (log_point) {
      const int64_t syncs = host_sync_count() - interval_syncs;
      std::array<double, 3> l = sums.read_means();  // the host waits for the step here
      if (world > 1) {  // the global batch's losses: the mean of the ranks'
        comm.allreduce_sum(l.data(), 3);
        for (double& v : l) v /= world;
      }
      STEADY_CHECK(std::isfinite(l[0]), "the loss became ", l[0], " by step ", step,
                   "; try a lower --lr");
      const auto now = std::chrono::steady_clock::now();
      const double seconds = std::chrono::duration<double>(now - interval_start).count();
      const double ips = static_cast<double>((step - interval_first_step) * global_batch) / std::max(seconds, 1e-9);
      const double eta = seconds / static_cast<double>(step - interval_first_step) *
                         static_cast<double>(total_steps - step);
      interval_start = now;
      interval_first_step = step;
      if (writer) {
        log << step << ',' << epoch << ',' << l[0] << ',' << l[1] << ',' << l[2] << ',' << ips << ','
            << syncs;
        progress.update(static_cast<int>(epoch + 1), epochs, in_epoch + 1, steps_per_epoch, l[0],
                        l[1], l[2], ips, eta, epoch_done);
      }
    }
    // Validation (rank 0 alone: the weights are the same on every rank) at its points and at
    // the end; the best checkpoint is written before last, so a kill between them keeps both.
    bool converged = false;
    if (val_point) {
      if (writer) {
        const auto [v, better] = validate();
        log << ',' << v;
        if (better) save(out + "/best.safetensors", false);
      }
      // Every rank stops with rank 0 (the only one that validates).
      converged = comm.any(patience > 0 && history.since_best >= patience && step < total_steps);
    } else if (log_point && writer && !val.empty()) {
      log << ',';
    }
    if (log_point && writer) log << '\n';
    if (epoch_done) {
      char name[64];
      std::snprintf(name, sizeof name, "/epoch_%03lld.safetensors", (long long)(epoch + 1));
      save(out + name);
      save(last);
      log.flush();
    }
    if (converged && !stopping) {
      save(last);
      log.flush();
      progress.finish_line();
      if (writer)
        std::fprintf(stderr, "validation loss has not improved for %lld validations: stopped at step %lld; "
                     "the best is %s (val_rec %.5f)\n", (long long)patience, (long long)step,
                     (out + "/best.safetensors").c_str(), history.best);
      return 0;
    }
    if (stopping) {
      save(last);
      progress.finish_line();
      if (writer)
        std::fprintf(stderr, "%s at step %lld: saved %s; continue with --resume\n",
                     interrupted ? "interrupted" : "stopped", (long long)step, last.c_str());
      return interrupted ? 128 + (g_signal != 0 ? g_signal.load() : int(SIGTERM)) : 0;
    }
    if (log_point) interval_syncs = host_sync_count();  // after the read-back and any save
  }
  progress.finish_line();
  save(last);
  if (writer)
    std::fprintf(stderr, "done: %lld steps, final checkpoint %s\n", (long long)step, last.c_str());
  if (writer && world > 1)
    std::fprintf(stderr, "all-reduce of the %lld gradients: %.3f s in all, %.3f ms per step\n",
                 (long long)model->params().grads.numel(), comm.allreduce_seconds(),
                 1e3 * comm.allreduce_seconds() / std::max<int64_t>(1, step - first_step));
  return 0;
}

}  // namespace

int training_main(TrainTask& task, const std::string& data, int argc, char** argv) {
  Cli cli("train_" + task.task(), "DATA [options]\n\nDATA: " + data);
  add_training_options(cli);
  if (!cli.parse(argc, argv)) return 0;
  Collective& comm = Collective::world();
  try {
    return train(task, cli, comm);
  } catch (const std::exception& e) {
    // One rank's error ends every rank now (the others may be waiting in an all-reduce).
    if (comm.distributed())
      comm.abort("train_" + task.task() + ": error on rank " + std::to_string(comm.rank()) + " of " +
                     std::to_string(comm.size()) + ": " + e.what(),
                 1);
    throw;
  }
}

}  // namespace steady
