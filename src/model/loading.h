#pragma once
// Building Qwen3 models from Hugging Face folders, writing them back, and
// creating random ones in the real shapes (tests and benchmarks cannot
// download weights).
#include <torch/torch.h>

#include <string>
#include <utility>
#include <vector>

#include "model/qwen3.h"

namespace qsenti {

struct LoadOptions {
  // Compute dtype: weights are converted once at load (bf16 files used as
  // bf16 stay memory-mapped, zero-copy).
  torch::Dtype dtype = torch::kFloat32;
  // Attach a classification head. Taken from `score.weight` when the folder
  // has one; otherwise freshly initialised (training a new classifier).
  bool score_head = false;
  int64_t num_labels = 2;
  // Where the weights go: each tensor is copied there as it is read, so a
  // GPU load never holds a second copy of the model in host memory.
  torch::Device device = torch::kCPU;
};

Qwen3 load_qwen3(const std::string& model_dir, const LoadOptions& options = {});

// Every tensor a Qwen3 checkpoint holds, with HF names and shapes, in HF's order.
std::vector<std::pair<std::string, std::vector<int64_t>>> qwen3_tensor_shapes(const Qwen3Config& c, bool score_head);

// Fills a model with HF's initialisation (normal(0, 0.02) matrices, unit norms).
void init_random_weights(Qwen3& model, uint64_t seed);

// Writes config.json and the weights (sharded above `max_shard_bytes`, as the
// 4B and 8B releases are) in HF layout. LoRA layers must be merged or absent;
// their adapters are not part of the base weights.
void save_qwen3(Qwen3& model, const std::string& dir, torch::Dtype dtype, uint64_t max_shard_bytes = 4ull << 30);

// Writes a randomly initialised model straight to disk, one tensor at a time
// (an 8B model never sits in memory), plus the bundled tokenizer files and a
// generation config, so the folder looks like a downloaded one.
void write_random_model(const Qwen3Config& c, const std::string& dir, uint64_t seed, torch::Dtype dtype,
                        uint64_t max_shard_bytes = 4ull << 30);

// Copies the bundled tokenizer files into a model folder (when absent).
void copy_bundled_tokenizer(const std::string& dir);

}  // namespace qsenti
