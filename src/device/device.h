#pragma once
// The one place that knows about devices: `--device auto|cpu|cuda|cuda:N`,
// host-to-device copies of batches, and each device's random generator.
#include <torch/torch.h>

#include <string>

namespace qsenti {

// Syntax only (no GPU needed): throws Error(kUsage) naming the bad value, so
// that commands refuse a typo before any model loads.
void check_device_spec(const std::string& spec);

// "auto" is CUDA device 0 when this LibTorch has CUDA and a GPU is visible,
// else the CPU. Asking for CUDA where there is none is an error that says why.
torch::Device resolve_device(const std::string& spec);

std::string device_string(const torch::Device& device);  // "cpu", "cuda:0"

// A host tensor on `device`: on CUDA through pinned memory and a non-blocking
// copy (the stream orders it before the kernels that read it).
torch::Tensor to_device(const torch::Tensor& host, const torch::Device& device);

// The default generator of a device (CPU or one GPU): its state as bytes, and
// back. Activation checkpointing and training checkpoints save both the CPU's
// and the model device's, so a resume on a GPU draws the same dropout masks.
torch::Tensor generator_state(const torch::Device& device);
void set_generator_state(const torch::Device& device, const torch::Tensor& state);

// Waits for queued kernels on `device` (timing, benchmarks); no-op on CPU.
void synchronize(const torch::Device& device);

// The CUDA caching allocator's peak of allocated bytes on `device` since the
// last reset (0 on the CPU, where the process's peak RSS says it instead).
uint64_t device_peak_bytes(const torch::Device& device);
void reset_device_peak(const torch::Device& device);

}  // namespace qsenti
