#pragma once
// The workers of one training job talking through PyTorch's own c10d: a
// TCPStore on rank 0 for the rendezvous, then Gloo (CPU tensors) or NCCL
// (CUDA tensors, in CUDA builds) for the collectives. Errors from c10d (a
// peer that died, a timeout) come out as qsenti::Error naming this rank.
#include <torch/torch.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "dist/dist_env.h"

namespace qsenti::dist {

// An operation in flight; wait() blocks until its tensors hold the result.
class PendingWork {
 public:
  virtual ~PendingWork() = default;
  virtual void wait() = 0;
};

class ProcessGroup {
 public:
  virtual ~ProcessGroup() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // Sum over the ranks, in place. The async form returns at once.
  virtual std::unique_ptr<PendingWork> allreduce_sum_async(torch::Tensor& t) = 0;
  void allreduce_sum(torch::Tensor& t) { allreduce_sum_async(t)->wait(); }
  // Rank `root`'s values everywhere, in place.
  virtual void broadcast(torch::Tensor& t, int root) = 0;
  // Every rank's `t` (same shape on all), in rank order.
  virtual std::vector<torch::Tensor> allgather(const torch::Tensor& t) = 0;
  virtual void barrier() = 0;
};

// Whether this build can make a process group at all (c10d compiled in).
bool available();

// Rendezvous at env.master_addr:master_port (rank 0 serves the store) and a
// process group for tensors on `device`: Gloo for the CPU, NCCL for CUDA.
// A rendezvous that does not complete within env.timeout_s fails naming the
// ranks that never arrived.
std::unique_ptr<ProcessGroup> init_process_group(const DistEnv& env, const torch::Device& device);

// The job's group while one is installed (training installs it for its
// duration); nullptr in a single process.
ProcessGroup* world();
void set_world(ProcessGroup* group);
inline int world_rank() { return world() ? world()->rank() : 0; }
inline int world_size() { return world() ? world()->size() : 1; }
// Rank 0 (or the only process) writes files: run folders, checkpoints, logs.
inline bool is_main_process() { return world_rank() == 0; }

// Installs a group for a scope and removes it after.
class WorldScope {
 public:
  explicit WorldScope(std::unique_ptr<ProcessGroup> group);
  ~WorldScope();
  WorldScope(const WorldScope&) = delete;
  WorldScope& operator=(const WorldScope&) = delete;

 private:
  std::unique_ptr<ProcessGroup> group_;
};

}  // namespace qsenti::dist
