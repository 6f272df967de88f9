// Data parallelism across processes: N ranks, each holding a replica, sum their flat gradient
// buffers with one all-reduce per step (NCCL for CUDA tensors when built with it, MPI_Allreduce
// otherwise; OpenMPI from Debian). The rank and world size come from the launcher: mpirun
// (OMPI_COMM_WORLD_*), srun (SLURM_STEP_NUM_TASKS, SLURM_LOCALID) or any MPI's PMI_* variables; the
// local GPU from the local rank. A process started without a launcher is rank 0 of 1 and
// touches no MPI at all.
//
// No rank waits forever: a collective that gets no answer from the others for
// STEADY_COMM_TIMEOUT seconds (300 by default) ends this process with a message naming it, and
// the launcher then ends the rest (a rank that died or hangs, a node that went away).
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "engine/tensor.h"

namespace steady {

class Collective {
 public:
  // The process's collective, set up from the environment on first use (MPI_Init then).
  static Collective& world();

  int rank() const { return rank_; }
  int size() const { return size_; }
  bool distributed() const { return size_ > 1; }

  // t = the ranks' mean of t, in place (float32, on the CPU or a CUDA device): the data-parallel
  // gradient (the sum, then times 1/size).
  void average(Tensor& t);
  // v[0, n) summed over the ranks, in place, on the host.
  void allreduce_sum(double* v, int n);
  // Returns once every rank has called it.
  void barrier();
  // True when any rank passes true (a stop request seen by one rank stops all at one step).
  bool any(bool flag);
  // Ends every rank of the job now with `code` (MPI_Abort), after `message` on stderr: an error
  // on one rank must not leave the others waiting in a collective forever.
  [[noreturn]] void abort(const std::string& message, int code);
  // Seconds spent in average() so far (the trainer's and benchmark's all-reduce time).
  double allreduce_seconds() const { return allreduce_seconds_; }

  ~Collective();

 private:
  Collective();
  void allreduce_sum(Tensor& t);  // t += the other ranks' t, in place
  // Marks the time spent inside one collective for the watchdog.
  struct Waiting {
    Collective& c;
    Waiting(Collective& c, const char* what);
    ~Waiting();
  };
  void watch();
  int rank_ = 0, size_ = 1;
  bool mpi_ = false;
  void* nccl_ = nullptr;  // ncclComm_t, made on the first CUDA all-reduce
  double allreduce_seconds_ = 0;
  double timeout_s_ = 300;
  std::atomic<int64_t> waiting_since_ns_{0};  // 0: not in a collective
  std::atomic<const char*> waiting_for_{""};
  std::mutex watch_mutex_;
  std::condition_variable watch_wake_;
  bool watch_stop_ = false;
  std::thread watchdog_;
};

}  // namespace steady
