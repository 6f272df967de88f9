#include "tools/lib/collective.h"

#include <omp.h>
#include <sched.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <vector>

#include "engine/backend.h"
#include "engine/error.h"
#include "engine/tensor_ops.h"

#ifdef STEADY_HAVE_MPI
#include <mpi.h>
#endif
#ifdef STEADY_HAVE_CUDA
#include <cuda_runtime.h>

#include "engine/cuda/runtime.h"
#endif
#ifdef STEADY_HAVE_NCCL
#include <nccl.h>
#endif

namespace steady {

namespace {

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  char* end = nullptr;
  const long x = std::strtol(v, &end, 10);
  return end && *end == '\0' && x >= 0 && x < (1 << 24) ? static_cast<int>(x) : fallback;
}

// The first of the launchers' variables that is set.
int env_first(std::initializer_list<const char*> names, int fallback) {
  for (const char* n : names) {
    const int v = env_int(n, -1);
    if (v >= 0) return v;
  }
  return fallback;
}

#ifdef STEADY_HAVE_MPI
void mpi_check(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, text, &len);
  throw Error(std::string("MPI: ") + what + " failed: " + std::string(text, len));
}
#endif

// NCCL for CUDA tensors when the build has it, unless STEADY_NCCL=0 (ranks sharing one GPU,
// which NCCL refuses, then go through the host).
bool use_nccl() {
#ifdef STEADY_HAVE_NCCL
  const char* v = std::getenv("STEADY_NCCL");
  return !v || std::string(v) != "0";
#else
  return false;
#endif
}

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// The launcher's world size from the environment alone (1 without a launcher).
int launcher_world_size() {
  // SLURM_STEP_NUM_TASKS, not SLURM_NTASKS: a job's batch script has the second without being
  // one of srun's tasks.
  return env_first({"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_STEP_NUM_TASKS"}, 1);
}

}  // namespace

Collective::Collective() {
  const int size = launcher_world_size();
  if (size <= 1) return;
  if (const char* t = std::getenv("STEADY_COMM_TIMEOUT")) {
    char* end = nullptr;
    const double v = std::strtod(t, &end);
    STEADY_CHECK(end && *end == '\0' && v > 0, "STEADY_COMM_TIMEOUT must be a positive number of "
                 "seconds, got '", t, "'");
    timeout_s_ = v;
  }
#ifdef STEADY_HAVE_MPI
  int provided = 0;
  mpi_check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
  mpi_ = true;
  // Errors come back as codes, which mpi_check turns into one line.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  mpi_check(MPI_Comm_rank(MPI_COMM_WORLD, &rank_), "MPI_Comm_rank");
  mpi_check(MPI_Comm_size(MPI_COMM_WORLD, &size_), "MPI_Comm_size");
  if (size_ > 1) watchdog_ = std::thread([this] { watch(); });
  // Ranks on one machine share its cores. A launcher that binds each rank to its own cores
  // (mpirun's default) already limits OpenMP to them; an unbound rank would start a thread per
  // core of the machine, as many times over as there are ranks on it. Unless OMP_NUM_THREADS
  // says otherwise, an unbound rank takes its share.
  MPI_Comm node;
  mpi_check(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node),
            "MPI_Comm_split_type");
  int ranks_here = 1;
  mpi_check(MPI_Comm_size(node, &ranks_here), "MPI_Comm_size");
  MPI_Comm_free(&node);
  cpu_set_t mine;
  const int cores = static_cast<int>(std::thread::hardware_concurrency());
  if (!std::getenv("OMP_NUM_THREADS") && ranks_here > 1 &&
      sched_getaffinity(0, sizeof mine, &mine) == 0 && CPU_COUNT(&mine) >= cores)
    omp_set_num_threads(std::max(1, cores / ranks_here));
#ifdef STEADY_HAVE_CUDA
  // One GPU per rank on a node: the local rank's, before anything touches the device.
  const int local_rank =
      env_first({"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "SLURM_LOCALID"}, 0);
  int devices = 0;
  if (cudaGetDeviceCount(&devices) == cudaSuccess && devices > 0) cudaSetDevice(local_rank % devices);
#endif
#else
  throw Error("launched as " + std::to_string(size) +
              " processes, but this build has no MPI (install libopenmpi-dev and reconfigure)");
#endif
}

Collective::Waiting::Waiting(Collective& c, const char* what) : c(c) {
  c.waiting_for_ = what;
  c.waiting_since_ns_ = now_ns();
}
Collective::Waiting::~Waiting() { c.waiting_since_ns_ = 0; }

void Collective::watch() {
  std::unique_lock<std::mutex> lock(watch_mutex_);
  while (!watch_wake_.wait_for(lock, std::chrono::milliseconds(250), [&] { return watch_stop_; })) {
    const int64_t since = waiting_since_ns_;
    if (since == 0 || (now_ns() - since) * 1e-9 < timeout_s_) continue;
    // The main thread is stuck in MPI; this thread may not call MPI (MPI_THREAD_FUNNELED), so
    // it ends the process, and the launcher ends the others.
    std::fprintf(stderr,
                 "steady: rank %d of %d: no answer from the other ranks for %.0f s in %s (a rank "
                 "died or hangs; STEADY_COMM_TIMEOUT sets the limit): ending\n",
                 rank_, size_, timeout_s_, waiting_for_.load());
    std::fflush(stderr);
    std::_Exit(1);
  }
}

Collective::~Collective() {
  if (watchdog_.joinable()) {
    {
      std::lock_guard<std::mutex> lock(watch_mutex_);
      watch_stop_ = true;
    }
    watch_wake_.notify_all();
    watchdog_.join();
  }
#ifdef STEADY_HAVE_NCCL
  if (nccl_) ncclCommDestroy(static_cast<ncclComm_t>(nccl_));
#endif
#ifdef STEADY_HAVE_MPI
  int finalized = 0;
  if (mpi_ && MPI_Finalized(&finalized) == MPI_SUCCESS && !finalized) MPI_Finalize();
#endif
}

Collective& Collective::world() {
  static Collective c;
  return c;
}

void Collective::allreduce_sum(Tensor& t) {
  if (!distributed()) return;
  STEADY_CHECK(t.defined() && t.dtype() == DType::F32, "allreduce_sum: expects a float32 tensor, got ",
               t.defined() ? t.str() : std::string("an undefined tensor"));
  STEADY_CHECK(t.numel() < (int64_t(1) << 31), "allreduce_sum: ", t.str(), " is too large");
  const auto start = std::chrono::steady_clock::now();
  const Waiting waiting(*this, "the gradient all-reduce");
#ifdef STEADY_HAVE_MPI
  auto mpi_allreduce = [&](void* data) {
    mpi_check(MPI_Allreduce(MPI_IN_PLACE, data, static_cast<int>(t.numel()), MPI_FLOAT, MPI_SUM,
                            MPI_COMM_WORLD),
              "MPI_Allreduce of the gradients");
  };
  if (t.device() == Device::CPU) {
    mpi_allreduce(t.raw());
  } else if (use_nccl()) {
#ifdef STEADY_HAVE_NCCL
    if (!nccl_) {
      // NCCL's unique id travels over MPI; one communicator for the run.
      ncclUniqueId id;
      if (rank_ == 0) ncclGetUniqueId(&id);
      mpi_check(MPI_Bcast(&id, sizeof id, MPI_BYTE, 0, MPI_COMM_WORLD), "MPI_Bcast of NCCL's id");
      ncclComm_t comm;
      const ncclResult_t r = ncclCommInitRank(&comm, size_, id, rank_);
      STEADY_CHECK(r == ncclSuccess, "NCCL: ncclCommInitRank failed: ", ncclGetErrorString(r));
      nccl_ = comm;
    }
    const ncclResult_t r = ncclAllReduce(t.raw(), t.raw(), static_cast<size_t>(t.numel()), ncclFloat,
                                         ncclSum, static_cast<ncclComm_t>(nccl_), cuda::stream());
    STEADY_CHECK(r == ncclSuccess, "NCCL: ncclAllReduce failed: ", ncclGetErrorString(r));
#endif
  } else {
    // Through the host: correct, slower.
    Tensor host = t.to(Device::CPU);
    mpi_allreduce(host.raw());
    t.copy_from(host);
  }
#endif
  allreduce_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void Collective::average(Tensor& t) {
  if (!distributed()) return;
  allreduce_sum(t);
  t.copy_from(scale(t, 1.0 / size_));
}

void Collective::allreduce_sum(double* v, int n) {
  if (!distributed()) return;
  const Waiting waiting(*this, "an all-reduce of the step's counters");
#ifdef STEADY_HAVE_MPI
  mpi_check(MPI_Allreduce(MPI_IN_PLACE, v, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce");
#endif
}

void Collective::barrier() {
  if (!distributed()) return;
  const Waiting waiting(*this, "a barrier");
#ifdef STEADY_HAVE_MPI
  mpi_check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
#endif
}

bool Collective::any(bool flag) {
  if (!distributed()) return flag;
  double v = flag ? 1.0 : 0.0;
  allreduce_sum(&v, 1);
  return v > 0;
}

void Collective::abort(const std::string& message, int code) {
  std::fprintf(stderr, "%s\n", message.c_str());
  std::fflush(stderr);
#ifdef STEADY_HAVE_MPI
  if (mpi_) MPI_Abort(MPI_COMM_WORLD, code);
#endif
  std::_Exit(code);
}

}  // namespace steady
