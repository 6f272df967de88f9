#include "tools/lib/batch_loader.h"

#include <omp.h>
#include <pthread.h>
#include <sched.h>

#include <algorithm>

namespace steady {

namespace {

// Sample j of step s draws from its own stream: the same bytes whichever worker makes it.
Rng sample_rng(uint64_t seed, int64_t step, int j) {
  return Rng(seed ^ (0xA0761D6478BD642Full * static_cast<uint64_t>(j + 1)),
             static_cast<uint64_t>(step + 1) << 32);
}

// Workers run beside the training step, which already uses every core through OpenMP: their
// own image operations stay on one thread each.
void single_threaded_worker() { omp_set_num_threads(1); }

// The prefetching workers yield the cores to the training step: under SCHED_IDLE they run on a
// core nothing else wants (a GPU host's spare cores; on a CPU the moments the step waits for its
// batch). At normal priority a worker preempted one of the step's OpenMP threads in the middle
// of a parallel region, and the other thread waited at the region's barrier as long: loading
// cost twice its CPU time (train_throughput at 64x64: 0.88 of bench_step's images/s). Linux
// lets any thread lower itself to it; where it cannot, the worker stays as it was.
void yield_cores_to_training() {
  sched_param none{};
  pthread_setschedparam(pthread_self(), SCHED_IDLE, &none);
}

}  // namespace

std::vector<size_t> epoch_order(size_t n, uint64_t seed, int64_t epoch) {
  std::vector<size_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = i;
  Rng rng(seed ^ 0x5DEECE66Dull, static_cast<uint64_t>(epoch) << 40);
  for (size_t i = n - 1; i > 0; --i) std::swap(order[i], order[rng.below(i + 1)]);
  return order;
}

BatchLoader::BatchLoader(const TrainTask& task, Options options)
    : task_(task),
      options_(options),
      steps_per_epoch_(static_cast<int64_t>(task.size()) / (int64_t(options.batch) * options.shards)),
      slots_(static_cast<size_t>(std::max(1, options.workers)) + 1),
      cache_(task.size()) {
  STEADY_CHECK(options.shards >= 1 && options.shard >= 0 && options.shard < options.shards,
               "BatchLoader: shard ", options.shard, " of ", options.shards);
  STEADY_CHECK(steps_per_epoch_ > 0, "BatchLoader: ", task.size(), " samples, fewer than batch ",
               int64_t(options.batch) * options.shards);
  for (int w = 0; w < std::max(1, options.workers); ++w)
    workers_.emplace_back([this] { worker_loop(); });
}

BatchLoader::~BatchLoader() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  work_ready_.notify_all();
  for (std::thread& t : workers_) t.join();
}

Tensor BatchLoader::image(size_t i) const {
  {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    if (cache_[i].defined()) return cache_[i];
  }
  Tensor decoded = task_.decode(i);
  std::lock_guard<std::mutex> lock(cache_mutex_);
  if (!cache_[i].defined() && cache_used_ + decoded.nbytes() <= options_.cache_bytes) {
    cache_[i] = decoded;
    cache_used_ += decoded.nbytes();
  }
  return decoded;
}

std::shared_ptr<const std::vector<size_t>> BatchLoader::order(int64_t epoch) const {
  std::lock_guard<std::mutex> lock(cache_mutex_);
  if (order_epoch_ != epoch) {
    order_ = std::make_shared<const std::vector<size_t>>(
        epoch_order(task_.size(), options_.seed, epoch));
    order_epoch_ = epoch;
  }
  return order_;
}

void BatchLoader::prepare(int64_t step, HostBatch& out) const {
  const int64_t B = options_.batch, plane = int64_t(options_.size) * options_.size;
  const int64_t cin = task_.input_channels(), cout = task_.target_channels();
  out.x.resize(static_cast<size_t>(B * cin * plane));
  out.y.resize(static_cast<size_t>(B * cout * plane));
  out.mask.resize(task_.has_mask() ? static_cast<size_t>(B * plane) : 0);
  const auto ord = order(step / steps_per_epoch_);
  const int64_t first_global = options_.shard * B;  // this shard's first row of the global batch
  const int64_t first = (step % steps_per_epoch_) * B * options_.shards + first_global;
  for (int64_t j = 0; j < B; ++j) {
    const size_t i = (*ord)[static_cast<size_t>(first + j)];
    Rng rng = sample_rng(options_.seed, step, static_cast<int>(first_global + j));
    task_.load_sample(i, image(i), options_.size, rng, out.x.data() + j * cin * plane,
                      out.y.data() + j * cout * plane,
                      task_.has_mask() ? out.mask.data() + j * plane : nullptr);
  }
}

void BatchLoader::worker_loop() {
  single_threaded_worker();
  yield_cores_to_training();
  for (;;) {
    int64_t step;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      work_ready_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      step = queue_.front();
      queue_.erase(queue_.begin());
      ++in_flight_;
    }
    // The slot is this worker's alone until it is marked ready.
    Slot& slot = slots_[static_cast<size_t>(step) % slots_.size()];
    std::exception_ptr error;
    try {
      prepare(step, slot.batch);
    } catch (...) {
      error = std::current_exception();
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      slot.error = error;
      slot.ready = true;
      --in_flight_;
    }
    slot_ready_.notify_all();
  }
}

const HostBatch& BatchLoader::get(int64_t step) {
  std::unique_lock<std::mutex> lock(mutex_);
  const int64_t depth = static_cast<int64_t>(slots_.size());
  Slot& slot = slots_[static_cast<size_t>(step) % slots_.size()];
  if (slot.step != step) {
    // Not queued (the first call, or a jump as on resume): restart the prefetch at step.
    slot_ready_.wait(lock, [&] { return in_flight_ == 0; });
    queue_.clear();
    for (Slot& s : slots_) s.step = -1, s.ready = false;
    next_to_schedule_ = step;
  }
  // Queue up to depth steps ahead: the slot of step + depth - 1 is the previous step's, which
  // the caller has finished with.
  const int64_t end = std::max(step + 1, std::min(step + depth, options_.total_steps));
  for (; next_to_schedule_ < end; ++next_to_schedule_) {
    Slot& s = slots_[static_cast<size_t>(next_to_schedule_) % slots_.size()];
    s.step = next_to_schedule_;
    s.ready = false;
    s.error = nullptr;
    queue_.push_back(next_to_schedule_);
  }
  work_ready_.notify_all();
  slot_ready_.wait(lock, [&] { return slot.ready && slot.step == step; });
  if (slot.error) std::rethrow_exception(slot.error);
  return slot.batch;
}

void BatchLoader::check_all() {
  const size_t n = task_.size();
  const int threads = std::max(1, options_.workers);
  std::mutex first_mutex;
  size_t first_bad = n;
  std::exception_ptr first_error;
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      single_threaded_worker();
      const int64_t plane = int64_t(options_.size) * options_.size;
      std::vector<float> x(task_.input_channels() * plane), y(task_.target_channels() * plane),
          mask(plane);
      for (size_t i = static_cast<size_t>(t); i < n; i += static_cast<size_t>(threads)) {
        try {
          Rng rng(options_.seed, i);
          task_.load_sample(i, image(i), options_.size, rng, x.data(), y.data(), mask.data());
        } catch (...) {
          std::lock_guard<std::mutex> lock(first_mutex);
          if (i < first_bad) first_bad = i, first_error = std::current_exception();
          return;
        }
      }
    });
  }
  for (std::thread& t : pool) t.join();
  if (first_error) std::rethrow_exception(first_error);
}

size_t BatchLoader::cached_images() const {
  std::lock_guard<std::mutex> lock(cache_mutex_);
  size_t count = 0;
  for (const Tensor& t : cache_) count += t.defined();
  return count;
}

size_t BatchLoader::cached_bytes() const {
  std::lock_guard<std::mutex> lock(cache_mutex_);
  return cache_used_;
}

}  // namespace steady
