#include "util/torch_compat.h"

#if !defined(TORCH_VERSION_MAJOR)
#include <torch/version.h>
#endif

namespace qsenti::compat {

#if TORCH_VERSION_MAJOR >= 2 && TORCH_VERSION_MINOR >= 4
bool cpu_autocast_enabled() { return at::autocast::is_autocast_enabled(at::kCPU); }
at::ScalarType cpu_autocast_dtype() { return at::autocast::get_autocast_dtype(at::kCPU); }
static void set_enabled(bool on) { at::autocast::set_autocast_enabled(at::kCPU, on); }
static void set_dtype(at::ScalarType t) { at::autocast::set_autocast_dtype(at::kCPU, t); }
#else
bool cpu_autocast_enabled() { return at::autocast::is_cpu_enabled(); }
at::ScalarType cpu_autocast_dtype() { return at::autocast::get_autocast_cpu_dtype(); }
static void set_enabled(bool on) { at::autocast::set_cpu_enabled(on); }
static void set_dtype(at::ScalarType t) { at::autocast::set_autocast_cpu_dtype(t); }
#endif

CpuAutocast::CpuAutocast(bool enabled, at::ScalarType dtype) : active_(enabled) {
  if (!active_) return;
  prev_enabled_ = cpu_autocast_enabled();
  prev_dtype_ = cpu_autocast_dtype();
  set_enabled(true);
  set_dtype(dtype);
  at::autocast::increment_nesting();
}

CpuAutocast::~CpuAutocast() {
  if (!active_) return;
  // Leaving the outermost region frees the cast weights autocast cached.
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  set_enabled(prev_enabled_);
  set_dtype(prev_dtype_);
}

}  // namespace qsenti::compat
