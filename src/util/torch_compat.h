#pragma once
// The one place for LibTorch calls whose spelling changed between 1.13
// (Debian's libtorch-dev) and 2.x (the CUDA builds users bring).
#include <torch/torch.h>
#include <ATen/autocast_mode.h>

namespace qsenti::compat {

// bf16 autocast on CPU for the current thread, restored on scope exit.
class CpuAutocast {
 public:
  explicit CpuAutocast(bool enabled, at::ScalarType dtype = at::kBFloat16);
  ~CpuAutocast();
  CpuAutocast(const CpuAutocast&) = delete;
  CpuAutocast& operator=(const CpuAutocast&) = delete;

 private:
  bool active_;
  bool prev_enabled_ = false;
  at::ScalarType prev_dtype_ = at::kBFloat16;
};

bool cpu_autocast_enabled();
at::ScalarType cpu_autocast_dtype();

}  // namespace qsenti::compat
