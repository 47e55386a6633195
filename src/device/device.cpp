#include "device/device.h"

#include <ATen/Context.h>
#include "util/torch_compat.h"
// The allocator statistics as spelled since 2.4 (CUDA builds older than that: 0).
#if defined(QSENTI_WITH_CUDA) && QSENTI_TORCH_AT_LEAST(2, 4)
#define QSENTI_CUDA_STATS 1
#include <c10/cuda/CUDACachingAllocator.h>
#endif

#include "util/error.h"

namespace qsenti {
namespace {

bool parse_index(const std::string& s, int64_t* out) {
  if (s.empty() || s.size() > 3) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  *out = std::stoll(s);
  return true;
}

std::string no_cuda_reason() {
#ifdef QSENTI_WITH_CUDA
  return "no GPU is visible (no driver, or CUDA_VISIBLE_DEVICES hides them)";
#else
  return "this qsenti was built against a LibTorch without CUDA (build with the PyPI torch: scripts/setup.sh "
         "--libtorch pypi)";
#endif
}

}  // namespace

void check_device_spec(const std::string& spec) {
  int64_t index = 0;
  if (spec == "auto" || spec == "cpu" || spec == "cuda") return;
  if (spec.rfind("cuda:", 0) == 0 && parse_index(spec.substr(5), &index)) return;
  throw Error("--device: '" + spec + "' is not one of auto, cpu, cuda, cuda:N", ExitCode::kUsage);
}

torch::Device resolve_device(const std::string& spec) {
  check_device_spec(spec);
  if (spec == "cpu") return torch::Device(torch::kCPU);
  const bool have = torch::cuda::is_available();
  if (spec == "auto") return have ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU);
  if (!have) throw Error("--device " + spec + ": " + no_cuda_reason());
  int64_t index = 0;
  if (spec != "cuda") parse_index(spec.substr(5), &index);
  const int64_t count = static_cast<int64_t>(torch::cuda::device_count());
  if (index >= count)
    throw Error("--device " + spec + ": there " + (count == 1 ? "is 1 GPU" : "are " + std::to_string(count) + " GPUs") +
                " (cuda:0" + (count > 1 ? "..cuda:" + std::to_string(count - 1) : "") + ")");
  return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
}

std::string device_string(const torch::Device& device) { return device.str(); }

torch::Tensor to_device(const torch::Tensor& host, const torch::Device& device) {
  if (!host.defined() || host.device() == device) return host;
  if (device.is_cuda() && host.is_cpu()) return host.pin_memory().to(device, /*non_blocking=*/true);
  return host.to(device);
}

torch::Tensor generator_state(const torch::Device& device) {
  auto gen = at::globalContext().defaultGenerator(device);
  std::lock_guard<std::mutex> lock(gen.mutex());
  return gen.get_state();
}

void set_generator_state(const torch::Device& device, const torch::Tensor& state) {
  auto gen = at::globalContext().defaultGenerator(device);
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_state(state);
}

void synchronize(const torch::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize(device.index());
}

uint64_t device_peak_bytes(const torch::Device& device) {
#ifdef QSENTI_CUDA_STATS
  if (device.is_cuda()) {
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(device.index() < 0 ? 0 : device.index());
    return static_cast<uint64_t>(
        stats.allocated_bytes[static_cast<size_t>(c10::CachingAllocator::StatType::AGGREGATE)].peak);
  }
#endif
  return 0;
}

void reset_device_peak(const torch::Device& device) {
#ifdef QSENTI_CUDA_STATS
  if (device.is_cuda()) c10::cuda::CUDACachingAllocator::resetPeakStats(device.index() < 0 ? 0 : device.index());
#endif
}

}  // namespace qsenti
