#pragma once
// The weights of a Hugging Face model folder: one `model.safetensors`, or the
// shards named by `model.safetensors.index.json` (Qwen3-4B and -8B ship so).
#include <torch/torch.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "io/safetensors.h"

namespace qsenti {

class WeightStore {
 public:
  explicit WeightStore(const std::string& model_dir);

  const std::string& dir() const { return dir_; }
  bool contains(const std::string& name) const { return where_.count(name) > 0; }
  std::vector<std::string> names() const;
  const TensorEntry& entry(const std::string& name) const;
  torch::Tensor tensor(const std::string& name) const;  // zero-copy where possible
  const std::string& file_of(const std::string& name) const;
  uint64_t total_bytes() const;  // bytes of tensor data
  const std::vector<std::shared_ptr<SafetensorsFile>>& files() const { return files_; }

 private:
  std::string dir_;
  std::vector<std::shared_ptr<SafetensorsFile>> files_;
  std::map<std::string, size_t> where_;  // tensor name → index into files_
};

// Writes `writer`'s tensors as one file, or as HF-style shards of at most
// `max_shard_bytes` with an index, into `dir`.
class SafetensorsWriter;
void write_sharded(const std::string& dir, const std::vector<std::pair<std::string, SafetensorsWriter>>& shards);

// A short hex digest that identifies a model folder's weights: the config,
// every shard's header and size, and samples of each shard's data. Random
// models with the same shapes but different seeds get different digests.
std::string model_fingerprint(const std::string& model_dir);

// 64-bit FNV-1a, for identities and cache keys (not for security).
uint64_t fnv1a64(const void* data, size_t n, uint64_t seed = 0xcbf29ce484222325ull);
std::string hex64(uint64_t v);

}  // namespace qsenti
