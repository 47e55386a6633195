#pragma once
// The one place for LibTorch calls whose spelling changed between 1.13
// (Debian's libtorch-dev) and 2.x (the PyPI wheel, CUDA builds users bring).
#include <torch/torch.h>
#include <ATen/autocast_mode.h>

#include <string>

#if !defined(TORCH_VERSION_MAJOR)
#include <torch/version.h>
#endif

#define QSENTI_TORCH_AT_LEAST(major, minor) \
  (TORCH_VERSION_MAJOR > (major) || (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))

namespace qsenti::compat {

// Autocast (bf16 by default) on one device type for the current thread,
// restored on scope exit. Autocast state is per thread in LibTorch.
class Autocast {
 public:
  Autocast(c10::DeviceType device, bool enabled, at::ScalarType dtype = at::kBFloat16);
  ~Autocast();
  Autocast(const Autocast&) = delete;
  Autocast& operator=(const Autocast&) = delete;

 private:
  c10::DeviceType device_;
  bool active_;
  bool prev_enabled_ = false;
  at::ScalarType prev_dtype_ = at::kBFloat16;
};

bool autocast_enabled(c10::DeviceType device);
at::ScalarType autocast_dtype(c10::DeviceType device);

// The dtype activations take on `device` inside the current autocast region,
// or `dtype` outside one.
at::ScalarType activation_dtype(c10::DeviceType device, at::ScalarType dtype);

// Optimizers key per-parameter state by the TensorImpl address: as a string in
// 1.13, as the pointer itself in 2.x.
using OptimizerStateKey =
    std::decay_t<decltype(std::declval<torch::optim::Optimizer&>().state())>::key_type;
OptimizerStateKey optimizer_state_key(const torch::Tensor& p);

// Fused attention (at::scaled_dot_product_attention, LibTorch >= 2.5 for
// grouped-query heads); elsewhere the caller takes its explicit path.
constexpr bool kHasFusedAttention = QSENTI_TORCH_AT_LEAST(2, 5);
// q [B, H, Tq, D], k/v [B, KV, Tk, D] with H a multiple of KV; additive mask
// broadcastable to [B, H, Tq, Tk]. Throws where kHasFusedAttention is false.
torch::Tensor fused_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                              const torch::Tensor& additive_mask, double scale);

// "1.13.1", "2.11.0", from the headers this was compiled against.
std::string torch_version();

}  // namespace qsenti::compat
