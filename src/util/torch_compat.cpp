#include "util/torch_compat.h"

#include <sstream>
#include <type_traits>

namespace qsenti::compat {

#if QSENTI_TORCH_AT_LEAST(2, 4)
bool autocast_enabled(c10::DeviceType d) { return at::autocast::is_autocast_enabled(d); }
at::ScalarType autocast_dtype(c10::DeviceType d) { return at::autocast::get_autocast_dtype(d); }
static void set_enabled(c10::DeviceType d, bool on) { at::autocast::set_autocast_enabled(d, on); }
static void set_dtype(c10::DeviceType d, at::ScalarType t) { at::autocast::set_autocast_dtype(d, t); }
#else
// 1.13 spells CPU and CUDA autocast separately; other devices have none.
bool autocast_enabled(c10::DeviceType d) {
  if (d == c10::kCPU) return at::autocast::is_cpu_enabled();
  if (d == c10::kCUDA) return at::autocast::is_enabled();
  return false;
}
at::ScalarType autocast_dtype(c10::DeviceType d) {
  return d == c10::kCUDA ? at::autocast::get_autocast_gpu_dtype() : at::autocast::get_autocast_cpu_dtype();
}
static void set_enabled(c10::DeviceType d, bool on) {
  if (d == c10::kCUDA) at::autocast::set_enabled(on);
  else at::autocast::set_cpu_enabled(on);
}
static void set_dtype(c10::DeviceType d, at::ScalarType t) {
  if (d == c10::kCUDA) at::autocast::set_autocast_gpu_dtype(t);
  else at::autocast::set_autocast_cpu_dtype(t);
}
#endif

at::ScalarType activation_dtype(c10::DeviceType device, at::ScalarType dtype) {
  return autocast_enabled(device) ? autocast_dtype(device) : dtype;
}

Autocast::Autocast(c10::DeviceType device, bool enabled, at::ScalarType dtype)
    : device_(device), active_(enabled) {
  if (!active_) return;
  TORCH_CHECK(device == c10::kCPU || device == c10::kCUDA, "autocast is supported on CPU and CUDA only");
  prev_enabled_ = autocast_enabled(device);
  prev_dtype_ = autocast_dtype(device);
  set_enabled(device, true);
  set_dtype(device, dtype);
  at::autocast::increment_nesting();
}

Autocast::~Autocast() {
  if (!active_) return;
  // Leaving the outermost region frees the cast weights autocast cached.
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  set_enabled(device_, prev_enabled_);
  set_dtype(device_, prev_dtype_);
}

namespace {
// A template, so that only the branch of this LibTorch's key type is compiled.
template <typename Key>
Key state_key_of(const torch::Tensor& p) {
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream s;  // what 1.13's c10::guts::to_string(TensorImpl*) writes
    s << p.unsafeGetTensorImpl();
    return s.str();
  } else {
    return static_cast<Key>(p.unsafeGetTensorImpl());
  }
}
}  // namespace

OptimizerStateKey optimizer_state_key(const torch::Tensor& p) { return state_key_of<OptimizerStateKey>(p); }

torch::Tensor fused_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                              const torch::Tensor& additive_mask, double scale) {
#if QSENTI_TORCH_AT_LEAST(2, 5)
  return at::scaled_dot_product_attention(q, k, v, additive_mask.to(q.scalar_type()), /*dropout_p=*/0.0,
                                          /*is_causal=*/false, scale, /*enable_gqa=*/k.size(1) != q.size(1));
#else
  TORCH_CHECK(false, "fused attention needs LibTorch 2.5 or newer");
#endif
}

std::string torch_version() {
  return std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR) + "." +
         std::to_string(TORCH_VERSION_PATCH);
}

}  // namespace qsenti::compat
