// The training input pipeline: images decoded once into a memory cache (up to a byte budget;
// images past it are decoded again when met), and host batches prepared by worker threads a
// few steps ahead of the training step that will use them.
//
// Determinism: the epoch order is a function of (seed, epoch) and sample j of step s draws all
// its randomness (crop, flip, virtual camera) from its own stream (seed, s, j), so a step's batch
// is the same bytes whatever the number of workers, and a resumed run meets the same batches.
// Under data parallelism j is the sample's index in the global batch, so shard r of N is rows
// [r*batch, (r+1)*batch) of the batch one process with batch N*batch would make.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "tools/lib/train_task.h"

namespace steady {

// One step's batch on the host, NCHW.
struct HostBatch {
  std::vector<float> x, y, mask;  // mask empty when the task has none
};

// The order of the samples in epoch `epoch` (a fixed shuffle of 0..n-1).
std::vector<size_t> epoch_order(size_t n, uint64_t seed, int64_t epoch);

class BatchLoader {
 public:
  struct Options {
    int batch = 8, size = 128;
    uint64_t seed = 1;
    int workers = 2;             // threads preparing batches (at least 1)
    size_t cache_bytes = 2ull << 30;
    int64_t total_steps = 0;     // steps of the whole run (nothing is prepared past it)
    // Data parallelism: the step's global batch is shards x batch samples and this loader
    // prepares shard `shard` of it, each sample with the stream of its global index.
    int shard = 0, shards = 1;
  };
  BatchLoader(const TrainTask& task, Options options);
  ~BatchLoader();
  BatchLoader(const BatchLoader&) = delete;
  BatchLoader& operator=(const BatchLoader&) = delete;

  // Decodes every image and makes one sample of each, on the workers: an unreadable file is one
  // clear error before step 1 (the first in file order), and the cache is warm afterwards.
  void check_all();
  // The batch of `step`. It stays valid until the next call; steps are asked for in increasing
  // order (a jump, as on resume, restarts the prefetch there).
  const HostBatch& get(int64_t step);

  size_t cached_images() const;
  size_t cached_bytes() const;

 private:
  struct Slot {
    int64_t step = -1;
    bool ready = false;
    std::exception_ptr error;
    HostBatch batch;
  };

  void worker_loop();
  void prepare(int64_t step, HostBatch& out) const;
  Tensor image(size_t i) const;  // from the cache, or decoded (and cached when it fits)
  std::shared_ptr<const std::vector<size_t>> order(int64_t epoch) const;

  const TrainTask& task_;
  const Options options_;
  const int64_t steps_per_epoch_;

  mutable std::mutex mutex_;
  std::condition_variable work_ready_, slot_ready_;
  std::vector<Slot> slots_;       // slot of step s: s % slots_.size()
  std::vector<int64_t> queue_;    // steps to prepare, in order
  int64_t next_to_schedule_ = 0;  // the first step not yet queued
  int in_flight_ = 0;             // steps taken by workers and not finished
  bool stopping_ = false;
  std::vector<std::thread> workers_;

  mutable std::mutex cache_mutex_;
  mutable std::vector<Tensor> cache_;
  mutable size_t cache_used_ = 0;
  mutable std::shared_ptr<const std::vector<size_t>> order_;
  mutable int64_t order_epoch_ = -1;
};

}  // namespace steady
