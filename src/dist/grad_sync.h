#pragma once
// Data-parallel gradients: the trainable parameters' gradients summed over
// the workers in fp32 buckets (about 25 MB each, as PyTorch's DDP), each
// bucket's all-reduce started from a gradient hook as soon as its last
// gradient is computed, so communication overlaps the rest of the backward
// pass. Buckets are started in one fixed order on every rank (c10d matches
// collectives by order). The caller scales each rank's loss so that a SUM
// gives the one-process gradient (see Trainer).
#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "dist/process_group.h"

namespace qsenti::dist {

class GradientSync {
 public:
  // `params` in the order the trainer keeps them; buckets are filled from
  // the last parameter backwards, the order backward produces them.
  GradientSync(ProcessGroup& group, std::vector<torch::Tensor> params, int64_t bucket_bytes = 25 << 20);
  ~GradientSync();
  GradientSync(const GradientSync&) = delete;
  GradientSync& operator=(const GradientSync&) = delete;

  // The next backward pass is the step's last: its hooks start the
  // all-reduces. Earlier micro-batches accumulate locally, with no traffic.
  void arm();
  // After that backward (or none, on a rank with no examples in the step):
  // starts what is left, waits, and writes the sums into each .grad.
  void finish();

  int64_t bytes_per_step() const { return bytes_; }       // fp32 payload all-reduced per step
  double last_wait_ms() const { return last_wait_ms_; }   // time finish() waited on the network
  size_t bucket_count() const { return buckets_.size(); }

 private:
  struct Slot {
    size_t bucket = 0;
    int64_t offset = 0, numel = 0;
    bool ready = false;
  };
  struct Bucket {
    torch::Tensor flat;            // fp32, on the parameters' device
    std::vector<size_t> params;
    size_t pending = 0;
    std::unique_ptr<PendingWork> work;
  };
  void on_grad(size_t i, const torch::Tensor& grad);
  void fill_from_grad(size_t i);
  void launch_ready();
  void launch(size_t b);

  ProcessGroup& group_;
  std::vector<torch::Tensor> params_;
  std::vector<Slot> slots_;
  std::vector<Bucket> buckets_;
  std::vector<unsigned> hook_ids_;
  size_t next_launch_ = 0;
  bool armed_ = false;
  int64_t bytes_ = 0;
  double last_wait_ms_ = 0;
};

}  // namespace qsenti::dist
