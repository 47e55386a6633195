#pragma once
// The small classifier that method A trains on frozen text vectors, and its
// file. Parameter names are those of the original PyTorch nn.Sequential, so
// the head loads there with load_state_dict:
//   mlp     Linear(d, 256) ReLU Dropout(0.3) Linear(256, K)
//           → "0.weight" [256, d], "0.bias", "3.weight" [K, 256], "3.bias"
//   logreg  Linear(d, K) → "0.weight" [K, d], "0.bias"
// head.safetensors stores them in fp32 with metadata "head" (mlp|logreg),
// "input_dim", "hidden", "num_labels", "dropout".
#include <torch/torch.h>

#include <cstdint>
#include <string>

namespace qsenti {

struct HeadSpec {
  std::string kind = "mlp";  // mlp | logreg
  int64_t input_dim = 0;
  int64_t hidden = 256;      // mlp only
  int64_t num_labels = 2;
  double dropout = 0.3;      // mlp only
};

class EmbeddingHeadImpl : public torch::nn::Module {
 public:
  // Initialised as PyTorch's nn.Linear (Kaiming-uniform) from torch's
  // global generator: seed it first for reproducible runs.
  explicit EmbeddingHeadImpl(const HeadSpec& spec);
  torch::Tensor forward(const torch::Tensor& x);  // [N, d] → logits [N, K]
  const HeadSpec& spec() const { return spec_; }

  torch::nn::Linear first{nullptr};   // "0"
  torch::nn::Linear second{nullptr};  // "3" (mlp only)
  torch::nn::Dropout dropout{nullptr};

 private:
  HeadSpec spec_;
};
TORCH_MODULE(EmbeddingHead);

// Writes the head (atomically) with its spec as metadata.
void save_head(const EmbeddingHead& head, const std::string& path);
// Reads a head written by save_head; InputError naming the file on problems.
EmbeddingHead load_head(const std::string& path);

}  // namespace qsenti
