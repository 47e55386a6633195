#pragma once
// Training checkpoints: everything needed to continue a run exactly where it
// stopped. A checkpoint is a folder <run>/checkpoints/step-<N>/ with
//   trainable.safetensors   the trainable parameters, by name
//   optimizer.safetensors   AdamW's exp_avg / exp_avg_sq (/ max_exp_avg_sq)
//                           per parameter, as "<name>.exp_avg", ...
//   state.json              trainer state (step, epoch, batch position, the
//                           AdamW step count per parameter, best score,
//                           the torch CPU generator state, ...)
// It is written as step-<N>.tmp and renamed into place, and only then does
// <run>/checkpoints/latest (a one-line text file) point at it, so a crash at
// any moment leaves the previous checkpoint usable.
#include <torch/torch.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace qsenti {

struct NamedTensor {
  std::string name;
  torch::Tensor tensor;
};

// Writes the checkpoint of `step` and points `latest` at it; then removes
// all but the `keep` newest step folders (by step). Returns the folder.
std::string write_checkpoint(const std::string& run_dir, int64_t step, const std::vector<NamedTensor>& params,
                             torch::optim::AdamW& optimizer, const nlohmann::json& state, int64_t keep = 1);

// The folder `latest` points at, or nullopt when the run has no checkpoint.
std::optional<std::string> latest_checkpoint(const std::string& run_dir);

// Loads parameters (copied into the given tensors, in place, shapes and names
// checked), the optimizer state and returns state.json. Throws InputError
// naming the file and tensor on any mismatch.
nlohmann::json read_checkpoint(const std::string& checkpoint_dir, const std::vector<NamedTensor>& params,
                               torch::optim::AdamW& optimizer);

// Parameters alone (the best weights), atomically.
void save_named_tensors(const std::string& path, const std::vector<NamedTensor>& params);
void load_named_tensors(const std::string& path, const std::vector<NamedTensor>& params);

// The CPU generator (dropout, init) state as bytes in a JSON array, and back.
nlohmann::json cpu_rng_state();
void set_cpu_rng_state(const nlohmann::json& state);
// Any device's default generator (a GPU's draws the dropout masks there).
nlohmann::json rng_state(const torch::Device& device);
void set_rng_state(const torch::Device& device, const nlohmann::json& state);

}  // namespace qsenti
